package e2etest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/internal/vmtest"
)

// The guest side of the check: where it lives in the image, and the
// session variable it expects the session-env chain to deliver.
const (
	hookPath   = "etc/sbx/start.d/50-e2e-check"
	sessionEnv = "etc/sbx/session-env.sh"
	proofPath  = "/root/e2e-proof"
	envVar     = "SBX_E2E_VAR"
	sbxInit    = "/usr/sbin/sbx-init"
	// What `rootfs-synth patch` adds (build_test.go's patched boot).
	putPath   = "/opt/sbx/put-proof"
	trickyVar = "SBX_E2E_TRICKY"
)

// hookScript is the start hook: it prints one "E2E-<KEY> <value>" line per
// fact to the console, writes the proof file, makes the root clean
// (remount read-only; the emergency remount if something holds it) and
// powers off. nonce ties the proof file to this run.
func hookScript(nonce string) string {
	return `#!/bin/sh
# rootfs-synth end-to-end check (internal/e2etest): print what the guest
# proves, one "E2E-KEY value" line each, then power off.
exec >/dev/console 2>&1
m() { echo "E2E-$1 $2"; }
m START 1
[ -e /proc/mounts ] || mount -t proc proc /proc
for w in $(cat /proc/cmdline); do
	case $w in init=*) m CMDLINE-INIT "${w#init=}" ;; esac
done
m ARCH "$(uname -m)"
m PID1-EXE "$(readlink /proc/1/exe)"
m PID1-COMM "$(cat /proc/1/comm)"
m INIT-LINK "$(readlink /sbin/init)"
if grep -q '^devpts /dev/pts devpts ' /proc/mounts; then m DEVPTS yes; else m DEVPTS no; fi
m ROOT "$(awk '$2 == "/" && $1 != "rootfs" { split($4, o, ","); r = $3 " " o[1] } END { print r }' /proc/mounts)"
P=/usr/bin:/bin:/usr/sbin:/sbin
m LOGIN-ENV "$(cd / && env -i HOME=/root USER=root LOGNAME=root PATH=$P sh -l -c 'echo "${` + envVar + `:-unset}"' 2>&1 | tail -n 1)"
shell=$(awk -F: '$1 == "root" { print $7 }' /etc/passwd)
m ROOT-SHELL "$shell"
m CMD-ENV "$(cd /root && env -i HOME=/root USER=root LOGNAME=root SHELL=$shell PATH=$P "$shell" -c 'echo "${` + envVar + `:-unset}"' 2>&1 | tail -n 1)"
hx() { busybox od -An -tx1 | busybox tr -d ' \n'; }
m HOSTNAME "$(hostname)"
m KEYS "$(busybox sha256sum /root/.ssh/authorized_keys 2>/dev/null | busybox cut -d' ' -f1)"
m SSH-MODES "$(busybox stat -c %a /root/.ssh /root/.ssh/authorized_keys 2>/dev/null | busybox tr '\n' ' ')"
m PUT "$(busybox sha256sum ` + putPath + ` 2>/dev/null | busybox cut -d' ' -f1)"
m PUT-STAT "$(busybox stat -c '%a %u:%g' ` + putPath + ` 2>/dev/null)"
m DF-KIB "$(busybox df -k / | busybox awk 'NR == 2 { print $2 }')"
m TRICKY-LOGIN "$(cd / && env -i HOME=/root USER=root LOGNAME=root PATH=$P sh -l -c 'printf %s "${` + trickyVar + `-unset}"' 2>/dev/null | hx)"
m TRICKY-CMD "$(cd /root && env -i HOME=/root USER=root LOGNAME=root SHELL=$shell PATH=$P "$shell" -c 'printf %s "${` + trickyVar + `-unset}"' 2>/dev/null | hx)"
echo "written-in-guest ` + nonce + `" > ` + proofPath + ` && sync && m WROTE ok
if mount -o remount,ro / 2>/dev/null; then m REMOUNT ro; else echo u > /proc/sysrq-trigger; sleep 1; m REMOUNT emergency; fi
m END 1
poweroff -f || /bin/busybox poweroff -f || echo o > /proc/sysrq-trigger
sleep 10
`
}

// sessionEnvScript is the user's /etc/sbx/session-env.sh.
func sessionEnvScript(value string) string {
	return "# written by the end-to-end test\nexport " + envVar + "=" + value + "\n"
}

// markers returns the guest's "E2E-KEY value" lines as KEY → value (the
// last one of each key wins).
func markers(guest string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(guest, "\n") {
		// A getty prompt printed at the same moment may stand before
		// the marker on the same console line ("localhost login: E2E-...").
		i := strings.Index(line, "E2E-")
		if i < 0 {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(line[i+len("E2E-"):]), " ")
		got[k] = v
	}
	return got
}

// guestProblems compares the markers with what a correct image shows, and
// returns one line per fact not proven.
func guestProblems(got map[string]string, value string) []string {
	want := []struct{ key, value, what string }{
		{"START", "1", "the start hook ran"},
		{"CMDLINE-INIT", sbxInit, "the kernel started sbx-init"},
		{"PID1-EXE", "/bin/busybox", "PID 1 is busybox"},
		{"PID1-COMM", "init", "PID 1 runs as init (sbx-init exec'd /sbin/init)"},
		{"INIT-LINK", "/bin/busybox", "/sbin/init is the busybox applet link"},
		{"DEVPTS", "yes", "devpts is mounted on /dev/pts"},
		{"ROOT", "ext4 rw", "the root is ext4, mounted read-write"},
		{"LOGIN-ENV", value, "a login shell (sh -l -c) sees the session variable"},
		{"CMD-ENV", value, "root's passwd shell -c (the ssh host cmd path) sees the session variable"},
		{"WROTE", "ok", "the guest wrote and synced the proof file"},
		{"END", "1", "the hook ran to its end"},
	}
	var problems []string
	for _, w := range want {
		if v, ok := got[w.key]; !ok || v != w.value {
			problems = append(problems, fmt.Sprintf("not proven: %s (E2E-%s = %q, want %q)", w.what, w.key, v, w.value))
		}
	}
	if r := got["REMOUNT"]; r != "ro" && r != "emergency" {
		problems = append(problems, fmt.Sprintf("not proven: the root was made clean before poweroff (E2E-REMOUNT = %q)", r))
	}
	return problems
}

// patchWant is what the patched image must show the guest.
type patchWant struct {
	hostname, keysSHA, putSHA, tricky string
	minDFKiB                          int64 // df's size of / after --grow is larger
}

// patchProblems compares the markers with what `rootfs-synth patch`
// wrote, one line per fact not proven: the kernel's hostname, the keys
// and their modes (directory 0700, file 0600), the put file's content,
// mode and owner, and a value with quotes, $, backquotes, a backslash and
// newlines through the login and the -c path, byte for byte (hex).
func patchProblems(got map[string]string, w patchWant) []string {
	tricky := hex.EncodeToString([]byte(w.tricky))
	want := []struct{ key, value, what string }{
		{"HOSTNAME", w.hostname, "the guest's hostname is --hostname's"},
		{"KEYS", w.keysSHA, "/root/.ssh/authorized_keys holds --authorized-keys' file"},
		{"SSH-MODES", "700 600", "/root/.ssh is 0700, authorized_keys 0600"},
		{"PUT", w.putSHA, "the --put file has its content"},
		{"PUT-STAT", "640 12:34", "the --put file has its mode and owner"},
		{"TRICKY-LOGIN", tricky, "a login shell sees the --env value verbatim"},
		{"TRICKY-CMD", tricky, "root's shell -c (ssh host cmd) sees the --env value verbatim"},
	}
	var problems []string
	for _, x := range want {
		if v := got[x.key]; v != x.value {
			problems = append(problems, fmt.Sprintf("not proven: %s (E2E-%s = %q, want %q)", x.what, x.key, v, x.value))
		}
	}
	if kib, err := strconv.ParseInt(got["DF-KIB"], 10, 64); err != nil || kib < w.minDFKiB {
		problems = append(problems, fmt.Sprintf("not proven: df shows the --grow size (E2E-DF-KIB = %q, want at least %d)", got["DF-KIB"], w.minDFKiB))
	}
	return problems
}

// machine returns the x86_64 boot machine, or skips (fails in CI) without
// one.
func machine(t *testing.T) *vmtest.Machine {
	t.Helper()
	return machineFor(t, vmtest.X86_64)
}

// machineFor returns the boot machine for arch, or skips (fails in CI)
// without one.
func machineFor(t *testing.T, arch string) *vmtest.Machine {
	t.Helper()
	m, err := vmtest.FindMachine(arch)
	if err != nil {
		if testenv.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return m
}

// checkBoot boots img (its writes reach it), and returns nil only when the
// guest proved every fact (guestProblems, that it runs m's arch, and each
// of more), the proof
// file with nonce is in the image after poweroff (read back with debugfs)
// and the image is e2fsck-clean.
func checkBoot(t *testing.T, m *vmtest.Machine, img, nonce, value string, more ...func(map[string]string) []string) error {
	t.Helper()
	res, err := m.Boot(context.Background(), img, vmtest.Options{Init: sbxInit, Timeout: 180 * time.Second})
	if err != nil {
		return err
	}
	t.Logf("booted %s in %v", img, res.Duration.Round(time.Millisecond))
	got := markers(res.Guest)
	t.Logf("guest markers: %q", got)
	p := guestProblems(got, value)
	if got["ARCH"] != m.Arch {
		p = append(p, fmt.Sprintf("not proven: the guest runs %s (E2E-ARCH = %q)", m.Arch, got["ARCH"]))
	}
	for _, f := range more {
		p = append(p, f(got)...)
	}
	if len(p) > 0 {
		return fmt.Errorf("%s\nguest console:\n%s", strings.Join(p, "\n"), res.Guest)
	}
	proof, err := debugfsCat(t, img, proofPath)
	if err != nil {
		return err
	}
	if want := "written-in-guest " + nonce + "\n"; proof != want {
		return fmt.Errorf("%s after poweroff = %q, want %q", proofPath, proof, want)
	}
	if err := e2fsck.Check(t, img); err != nil {
		return fmt.Errorf("after the guest's writes: %w", err)
	}
	return nil
}

func debugfsCat(t *testing.T, img, path string) (string, error) {
	t.Helper()
	c := exec.Command(testenv.Tool(t, "debugfs"), "-R", "cat "+path, img)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return "", fmt.Errorf("debugfs cat %s: %v: %s", path, err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, "debugfs ") {
			return "", fmt.Errorf("debugfs cat %s: %s", path, line)
		}
	}
	return string(out), nil
}

// copyImage returns a copy of img in a new temporary file.
func copyImage(t *testing.T, img string) string {
	t.Helper()
	cp := img + ".copy"
	for i := 0; ; i++ {
		if _, err := os.Stat(cp); errors.Is(err, os.ErrNotExist) {
			break
		}
		cp = fmt.Sprintf("%s.copy%d", img, i)
	}
	testenv.CopyFile(t, cp, img)
	return cp
}

// zeroSuperblock destroys img's primary superblock: the kernel cannot
// mount it.
func zeroSuperblock(t *testing.T, img string) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 1024), 1024); err != nil {
		t.Fatal(err)
	}
}

func nonce() string { return fmt.Sprintf("%x", time.Now().UnixNano()) }

// TestGuestProblems: the marker judge accepts exactly the full set and
// names each missing or wrong fact.
func TestGuestProblems(t *testing.T) {
	good := "noise\nE2E-START 1\nE2E-CMDLINE-INIT /usr/sbin/sbx-init\nE2E-PID1-EXE /bin/busybox\nE2E-PID1-COMM init\n" +
		"E2E-INIT-LINK /bin/busybox\nE2E-DEVPTS yes\nE2E-ROOT ext4 rw\nE2E-LOGIN-ENV v1\nE2E-ROOT-SHELL /bin/sh\n" +
		"E2E-CMD-ENV v1\nE2E-WROTE ok\nE2E-REMOUNT ro\nE2E-END 1\n"
	for _, tt := range []struct {
		name, guest string
		want        int
	}{
		{"all proven", good, 0},
		{"root read-only", strings.Replace(good, "ext4 rw", "ext4 ro", 1), 1},
		{"no devpts", strings.Replace(good, "DEVPTS yes", "DEVPTS no", 1), 1},
		{"init not the applet", strings.Replace(good, "INIT-LINK /bin/busybox", "INIT-LINK ", 1), 1},
		{"variable lost to ssh cmd", strings.Replace(good, "CMD-ENV v1", "CMD-ENV unset", 1), 1},
		{"hook stopped early", good[:strings.Index(good, "E2E-WROTE")], 3},
		{"nothing", "kernel panic", 12},
	} {
		if got := guestProblems(markers(tt.guest), "v1"); len(got) != tt.want {
			t.Errorf("%s: guestProblems = %d problems %q, want %d", tt.name, len(got), got, tt.want)
		}
	}
}
