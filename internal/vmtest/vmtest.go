// Package vmtest boots an ext4 root filesystem image under QEMU the way
// Firecracker would start it — a Linux kernel, the image as the virtio
// block device /dev/vda, the console on a serial port — so tests can let
// the kernel itself judge an image: mount it read-write, run its init,
// write to it, replay its journal.
//
// It uses software emulation (TCG; no KVM needed) and a throw-away
// initramfs with a static busybox that loads the virtio modules, mounts the
// root like the kernel would and switch_roots to the image's init. For
// x86_64 the machine is QEMU's microvm (virtio-mmio, no firmware to speak
// of) with a Debian kernel found in /boot and the host's busybox; for
// aarch64 it is QEMU's virt board (-cpu cortex-a57: the default "max"
// emulates pointer authentication, three times slower) with Debian's arm64
// cloud kernel, its modules and Debian's arm64 busybox-static, unpacked by
// .ci/arm64-guest into Arm64Dir. Left out on purpose: networking, several
// disks, other architectures, and Firecracker itself (it needs /dev/kvm).
package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// handover is what the initramfs prints right before it starts the
// image's init; console output before it is the kernel's and the
// initramfs's, after it the image's.
const handover = "vmtest-initramfs: handing over"

// The architectures FindMachine boots, by their Alpine names.
const (
	X86_64  = "x86_64"
	Aarch64 = "aarch64"
)

// Arm64Dir is where .ci/arm64-guest unpacks the aarch64 kernel, its
// modules and busybox: $ROOTFS_SYNTH_ARM64_DIR, by default
// /usr/local/lib/rootfs-synth/arm64.
func Arm64Dir() string {
	if d := os.Getenv("ROOTFS_SYNTH_ARM64_DIR"); d != "" {
		return d
	}
	return "/usr/local/lib/rootfs-synth/arm64"
}

// Machine is what booting needs from the host: a kernel with its modules,
// a static busybox for the initramfs, and QEMU.
type Machine struct {
	Arch     string // the guest's: X86_64 or Aarch64
	Kernel   string // bzImage, or arm64's Image
	Release  string // its `uname -r`, naming <Root>/lib/modules/<Release>
	Root     string // the directory holding lib/modules; "" is the host's /
	Busybox  string // a statically linked busybox for Arch
	QEMU     string // qemu-system-x86_64 or qemu-system-aarch64
	Modprobe string
}

// FindMachine looks for what booting an arch guest needs, and says how to
// get what is missing. For x86_64: the newest Debian cloud kernel in /boot
// (ext4 is built in there; any other kernel in /boot otherwise),
// /bin/busybox, qemu and modprobe. For aarch64: the arm64 cloud kernel,
// modules and busybox in Arm64Dir, qemu-system-aarch64 and modprobe.
func FindMachine(arch string) (*Machine, error) {
	var missing []string
	m := &Machine{Arch: arch, Busybox: "/bin/busybox"}
	// Where each piece comes from, for the message when it is missing.
	kernelGlob, qemu := "/boot/vmlinuz-*-cloud-amd64", "qemu-system-x86_64"
	kernelFrom, busyboxFrom, qemuFrom := "Debian package linux-image-cloud-amd64", "Debian package busybox-static", "Debian package qemu-system-x86"
	switch arch {
	case X86_64:
	case Aarch64:
		m.Root = Arm64Dir()
		m.Busybox = filepath.Join(m.Root, "bin/busybox")
		kernelGlob, qemu = filepath.Join(m.Root, "boot/vmlinuz-*-arm64"), "qemu-system-aarch64"
		kernelFrom, busyboxFrom, qemuFrom = "run `sudo .ci/arm64-guest`", "run `sudo .ci/arm64-guest`", "Debian package qemu-system-arm"
	default:
		return nil, fmt.Errorf("cannot boot %q images: only %s and %s", arch, X86_64, Aarch64)
	}
	kernels, _ := filepath.Glob(kernelGlob)
	if len(kernels) == 0 && arch == X86_64 {
		kernels, _ = filepath.Glob("/boot/vmlinuz-*")
	}
	sort.Slice(kernels, func(i, j int) bool { return versionLess(kernels[i], kernels[j]) })
	if len(kernels) == 0 {
		missing = append(missing, fmt.Sprintf("a kernel %s (%s)", kernelGlob, kernelFrom))
	} else {
		m.Kernel = kernels[len(kernels)-1]
		m.Release = strings.TrimPrefix(filepath.Base(m.Kernel), "vmlinuz-")
		if dep := filepath.Join(m.Root, "/lib/modules", m.Release, "modules.dep"); !exists(dep) {
			missing = append(missing, dep+" (the kernel's modules)")
		}
	}
	if err := checkStatic(m.Busybox, arch); err != nil {
		missing = append(missing, fmt.Sprintf("a static %s busybox at %s (%s): %v", arch, m.Busybox, busyboxFrom, err))
	}
	var err error
	if m.QEMU, err = exec.LookPath(qemu); err != nil {
		missing = append(missing, fmt.Sprintf("%s (%s)", qemu, qemuFrom))
	}
	if m.Modprobe, err = lookPathSbin("modprobe"); err != nil {
		missing = append(missing, "modprobe (Debian package kmod)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cannot boot images here, missing: %s", strings.Join(missing, "; "))
	}
	return m, nil
}

// Options for one boot.
type Options struct {
	Init     string        // the image's init; default /sbin/init
	Timeout  time.Duration // default 120 s
	Memory   int           // MiB; default 256
	ReadOnly bool          // mount the root read-only (the guest's writes are still lost only with Snapshot)
	Snapshot bool          // discard the guest's writes (QEMU snapshot=on); default: they reach the image
}

// Result is what a boot showed.
type Result struct {
	Console  string        // the whole serial console, \r removed
	Guest    string        // the part the image's init printed (after the hand-over)
	Duration time.Duration // from start to the VM's exit
}

// Boot starts image under QEMU and waits until the VM powers off (the
// guest's init should end with a poweroff: `echo o > /proc/sysrq-trigger`
// or `poweroff -f`), or until the timeout, which is an error, like a VM
// that never reached the image's init.
func (m *Machine) Boot(ctx context.Context, image string, opts Options) (*Result, error) {
	if opts.Init == "" {
		opts.Init = "/sbin/init"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 120 * time.Second
	}
	if opts.Memory == 0 {
		opts.Memory = 256
	}
	dir, err := os.MkdirTemp("", "vmtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := m.writeInitramfs(initrd); err != nil {
		return nil, fmt.Errorf("building the initramfs: %w", err)
	}
	mode := "rw"
	if opts.ReadOnly {
		mode = "ro"
	}
	board := []string{"-M", "microvm", "-accel", "tcg", "-cpu", "max"}
	// TCG offers no kvmclock, and microvm has no HPET or PM timer: without
	// the TSC rate the kernel hangs calibrating it.
	appendLine := fmt.Sprintf("console=ttyS0 root=/dev/vda %s init=%s panic=-1 tsc_early_khz=%d", mode, opts.Init, tscKHz())
	if m.Arch == Aarch64 {
		// virt's PL011 is ttyAMA0; its virtio-mmio devices are in the
		// device tree, its power-off is PSCI.
		board = []string{"-M", "virt", "-accel", "tcg", "-cpu", "cortex-a57"}
		appendLine = fmt.Sprintf("console=ttyAMA0 root=/dev/vda %s init=%s panic=-1", mode, opts.Init)
	}
	snapshot := "off"
	if opts.Snapshot {
		snapshot = "on"
	}
	console := filepath.Join(dir, "console.log")
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.QEMU, append(board,
		"-m", strconv.Itoa(opts.Memory), "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", m.Kernel, "-initrd", initrd, "-append", appendLine,
		"-drive", "file="+strings.ReplaceAll(image, ",", ",,")+",format=raw,if=none,id=root,snapshot="+snapshot,
		"-device", "virtio-blk-device,drive=root",
		"-serial", "file:"+console, "-monitor", "none")...)
	var qemuOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &qemuOut, &qemuOut
	start := time.Now()
	runErr := cmd.Run()
	res := &Result{Duration: time.Since(start)}
	raw, _ := os.ReadFile(console)
	res.Console = strings.ReplaceAll(string(raw), "\r", "")
	if i := strings.Index(res.Console, handover); i >= 0 {
		res.Guest = stripKernelLines(res.Console[i:])
	}
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("booting %s: no poweroff within %v; console ends:\n%s", image, opts.Timeout, tail(res.Console, 40))
	case runErr != nil:
		return res, fmt.Errorf("booting %s: qemu: %v: %s\nconsole ends:\n%s", image, runErr, qemuOut.String(), tail(res.Console, 40))
	case res.Guest == "":
		return res, fmt.Errorf("booting %s: the image's init was never started; console ends:\n%s", image, tail(res.Console, 40))
	}
	return res, nil
}

// writeInitramfs writes the throw-away initramfs: busybox, the modules
// for virtio block devices on virtio-mmio and for ext4 (in load order),
// and an /init that mounts the root as the kernel would and hands over.
func (m *Machine) writeInitramfs(path string) error {
	bb, err := os.ReadFile(m.Busybox)
	if err != nil {
		return err
	}
	files := []cpioFile{
		{Name: "bin", Mode: os.ModeDir | 0o755},
		{Name: "bin/busybox", Mode: 0o755, Data: bb},
		{Name: "bin/sh", Mode: os.ModeSymlink | 0o777, Linkname: "busybox"},
		{Name: "dev", Mode: os.ModeDir | 0o755},
		{Name: "proc", Mode: os.ModeDir | 0o755},
		{Name: "newroot", Mode: os.ModeDir | 0o755},
		{Name: "lib", Mode: os.ModeDir | 0o755},
		{Name: "lib/modules", Mode: os.ModeDir | 0o755},
		{Name: "init", Mode: 0o755, Data: []byte(initScript)},
	}
	seen := map[string]bool{}
	for _, mod := range []string{"virtio_blk", "virtio_mmio", "ext4"} {
		args := []string{"-S", m.Release, "--show-depends", mod}
		if m.Root != "" {
			args = append([]string{"-d", m.Root}, args...)
		}
		out, err := exec.Command(m.Modprobe, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("modprobe --show-depends %s: %v: %s", mod, err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 || f[0] != "insmod" || seen[f[1]] {
				continue // "builtin x" needs nothing
			}
			seen[f[1]] = true
			if !strings.HasSuffix(f[1], ".ko") {
				return fmt.Errorf("module %s is compressed; only plain .ko files are supported", f[1])
			}
			data, err := os.ReadFile(f[1])
			if err != nil {
				return err
			}
			name := fmt.Sprintf("lib/modules/%02d-%s", len(seen), filepath.Base(f[1]))
			files = append(files, cpioFile{Name: name, Mode: 0o644, Data: data})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := writeCpio(w, files); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// initScript loads the modules, mounts the root device named on the
// kernel command line (rw or ro), moves a devtmpfs onto its /dev (as
// CONFIG_DEVTMPFS_MOUNT does on Firecracker kernels) and starts its init.
// Any failure powers the VM off, so a broken image fails fast.
const initScript = `#!/bin/sh
B=/bin/busybox
$B mount -t devtmpfs devtmpfs /dev
$B mount -t proc proc /proc
for m in /lib/modules/*.ko; do [ -e "$m" ] && $B insmod "$m"; done
root=/dev/vda init=/sbin/init mode=rw
for w in $($B cat /proc/cmdline); do
  case $w in root=*) root=${w#root=} ;; init=*) init=${w#init=} ;; ro) mode=ro ;; rw) mode=rw ;; esac
done
fail() { echo "vmtest-initramfs: FAIL: $*"; echo o > /proc/sysrq-trigger; $B sleep 10; }
i=0
while [ ! -b "$root" ] && [ $i -lt 100 ]; do $B sleep 0.1; i=$((i + 1)); done
[ -b "$root" ] || fail "root device $root did not appear"
$B mount -t ext4 -o "$mode" "$root" /newroot || fail "cannot mount $root ($mode)"
[ -d /newroot/dev ] && $B mount --move /dev /newroot/dev
$B umount /proc
echo "` + handover + ` to $init on $root"
exec $B switch_root /newroot "$init"
`

// kernelLine matches a printk line with its timestamp, which the serial
// port can interleave with the guest's own output.
var kernelLine = regexp.MustCompile(`(?m)^\[ *[0-9]+\.[0-9]+\] .*\n?`)

func stripKernelLines(s string) string { return kernelLine.ReplaceAllString(s, "") }

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// tscKHz is the host's TSC rate, which TCG's guest TSC runs at.
func tscKHz() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			if mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && mhz > 100 {
				return int(mhz * 1000)
			}
		}
	}
	return 2000000
}

// checkStatic tells whether the ELF file at path is for arch and has no
// program interpreter (a dynamic busybox cannot run inside the initramfs).
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if want := map[string]elf.Machine{X86_64: elf.EM_X86_64, Aarch64: elf.EM_AARCH64}[arch]; f.Machine != want {
		return fmt.Errorf("it is for %v, not %v", f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("it is dynamically linked")
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func lookPathSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// versionLess orders kernel file names by their numeric parts.
func versionLess(a, b string) bool {
	na, nb := numbers(a), numbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	return len(na) < len(nb)
}

var digits = regexp.MustCompile(`[0-9]+`)

func numbers(s string) []int {
	var n []int
	for _, d := range digits.FindAllString(s, -1) {
		v, _ := strconv.Atoi(d)
		n = append(n, v)
	}
	return n
}
