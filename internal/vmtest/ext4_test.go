package vmtest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/internal/vmtest"
)

// machine returns the boot machine, or skips (fails in CI) without one.
func machine(t *testing.T) *vmtest.Machine {
	t.Helper()
	m, err := vmtest.FindMachine(vmtest.X86_64)
	if err != nil {
		if testenv.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return m
}

// The guest's init scripts. "check" reads the tree back through the
// kernel and prints what it saw, then writes: new files, new entries in
// the hash-tree directory (the kernel inserts into our htree), a removed
// entry, 4 MiB of random data with its checksum. The clean variant
// remounts read-only before powering off; the crash variant powers off
// with the writes only in the journal. "verify" runs on the next boot.
const (
	checkScript = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
echo "ROOT $($B grep ' / ' /proc/mounts | $B cut -d' ' -f3,4 | $B cut -d, -f1)"
echo "SHA $($B sha256sum /data/blob | $B cut -d' ' -f1)"
echo "BIG $($B ls /data/big | $B wc -l)"
echo "LOOKUP $($B cat /data/big/f01234)"
echo "LINKS $($B stat -c %h /data/hard1) $($B cat /data/hard2)"
echo "MODE $($B stat -c '%a %u:%g' /data/setuid)"
echo "SLOW $($B readlink /data/slowlink | $B wc -c)"
echo "UTF8 $($B cat /data/ünïcødé)"
$B mkdir /data/new
for i in $($B seq 1 200); do echo $i > /data/new/n$i; done
for i in $($B seq 1 500); do echo x > /data/big/added$i; done
$B rm /data/big/f00001
$B dd if=/dev/urandom of=/data/new/random bs=4096 count=1024 2>/dev/null
$B sha256sum /data/new/random > /data/new/random.sha
$B sync
`
	cleanEnd = `$B mount -o remount,ro /
echo "VMTEST-DONE"
echo o > /proc/sysrq-trigger
$B sleep 10
`
	crashEnd = `echo "VMTEST-DONE"
echo o > /proc/sysrq-trigger
$B sleep 10
`
	verifyScript = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
echo "NEW $($B ls /data/new | $B wc -l) $($B ls /data/big | $B wc -l)"
cd /data/new && $B sha256sum -c random.sha >/dev/null && echo "RANDOM OK"
$B mount -o remount,ro /
echo "VMTEST-DONE"
echo o > /proc/sysrq-trigger
$B sleep 10
`
)

// bootImage builds the test tree with ext4img: a static busybox, the init
// scripts, a 12 MiB file, a 3,000-entry directory (written as an htree),
// hard links, a setuid file owned by 1000:1000, a slow symlink, a UTF-8 name.
func bootImage(t *testing.T, m *vmtest.Machine, opts ext4img.Options) (img, blobSum string) {
	t.Helper()
	w := ext4img.NewWriter(opts)
	mt := time.Unix(1700000000, 0)
	add := func(e ext4img.Entry) {
		t.Helper()
		if e.ModTime.IsZero() {
			e.ModTime = mt
		}
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	text := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys", "etc", "data", "data/big"} {
		add(ext4img.Entry{Path: d, Mode: fs.ModeDir | 0o755})
	}
	add(ext4img.Entry{Path: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777})
	bb, err := os.Stat(m.Busybox)
	if err != nil {
		t.Fatal(err)
	}
	add(ext4img.Entry{Path: "bin/busybox", Mode: 0o755, Size: bb.Size(),
		Content: func() (io.ReadCloser, error) { return os.Open(m.Busybox) }})
	add(ext4img.Entry{Path: "bin/sh", Mode: fs.ModeSymlink | 0o777, Linkname: "busybox"})
	for name, s := range map[string]string{
		"sbin/init-clean":  checkScript + cleanEnd,
		"sbin/init-crash":  checkScript + crashEnd,
		"sbin/init-verify": verifyScript,
	} {
		add(ext4img.Entry{Path: name, Mode: 0o755, Size: int64(len(s)), Content: text(s)})
	}
	blob := make([]byte, 12<<20)
	for i := range blob {
		blob[i] = byte(i*7 + i>>12)
	}
	sum := sha256.Sum256(blob)
	add(ext4img.Entry{Path: "data/blob", Mode: 0o644, Size: int64(len(blob)),
		Content: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil }})
	for i := range 3000 {
		s := fmt.Sprintf("entry %d\n", i)
		add(ext4img.Entry{Path: fmt.Sprintf("data/big/f%05d", i), Mode: 0o644, Size: int64(len(s)), Content: text(s)})
	}
	add(ext4img.Entry{Path: "data/hard1", Mode: 0o644, Size: 6, Content: text("linked")})
	if err := w.Link("data/hard1", "data/hard2"); err != nil {
		t.Fatal(err)
	}
	add(ext4img.Entry{Path: "data/setuid", Mode: fs.ModeSetuid | 0o755, UID: 1000, GID: 1000})
	add(ext4img.Entry{Path: "data/slowlink", Mode: fs.ModeSymlink | 0o777, Linkname: strings.Repeat("x/", 50) + "target"})
	add(ext4img.Entry{Path: "data/ünïcødé", Mode: 0o644, Size: 3, Content: text("utf")})
	img = filepath.Join(t.TempDir(), "root.ext4")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatalf("fresh image: %v", err)
	}
	return img, hex.EncodeToString(sum[:])
}

// guestLines returns the guest's output lines that start with one of the
// test's keys, as "KEY value".
func guestLines(out string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "ROOT", "SHA", "BIG", "LOOKUP", "LINKS", "MODE", "SLOW", "UTF8", "NEW", "RANDOM", "DFSIZE", "FILLED", "VMTEST-DONE":
			got[k] = v
		}
	}
	return got
}

func wantGuest(t *testing.T, res *vmtest.Result, want map[string]string) {
	t.Helper()
	got := guestLines(res.Guest)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("guest printed %s %q, want %q", k, got[k], v)
		}
	}
	if t.Failed() {
		t.Logf("guest console:\n%s", res.Guest)
	}
}

func checkedLines(blobSum string) map[string]string {
	return map[string]string{
		"ROOT":        "ext4 rw",
		"SHA":         blobSum,
		"BIG":         "3000",
		"LOOKUP":      "entry 1234",
		"LINKS":       "2 linked",
		"MODE":        "4755 1000:1000",
		"SLOW":        "107", // 106 bytes and readlink's newline
		"UTF8":        "utf",
		"VMTEST-DONE": "",
	}
}

// TestKernelMountsWritesAndStaysClean: the kernel mounts a default image
// (journal, headroom) read-write, reads every kind of entry back as
// written, writes to it, and after sync and a clean poweroff the image is
// still e2fsck-clean and holds the guest's writes.
func TestKernelMountsWritesAndStaysClean(t *testing.T) {
	m := machine(t)
	for _, tt := range []struct {
		name string
		opts ext4img.Options
	}{
		{"default", ext4img.Options{}},
		{"1k-blocks-no-journal", ext4img.Options{BlockSize: 1024, NoJournal: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img, blobSum := bootImage(t, m, tt.opts)
			res, err := m.Boot(context.Background(), img, vmtest.Options{Init: "/sbin/init-clean"})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("booted, checked and wrote in %v", res.Duration.Round(time.Millisecond))
			wantGuest(t, res, checkedLines(blobSum))
			if err := e2fsck.Check(t, img); err != nil {
				t.Fatalf("after the guest wrote to it: %v", err)
			}
			if got := debugfsCat(t, img, "/data/new/n200"); got != "200\n" {
				t.Errorf("/data/new/n200 after the guest wrote it = %q, want %q", got, "200\n")
			}
		})
	}
}

// TestKernelReplaysJournal: the guest writes and powers off without
// unmounting (a killed sandbox). The image then needs recovery; the next
// boot's mount replays the journal, the writes are there, and after that
// boot's clean poweroff the image is e2fsck-clean.
func TestKernelReplaysJournal(t *testing.T) {
	m := machine(t)
	img, blobSum := bootImage(t, m, ext4img.Options{})
	res, err := m.Boot(context.Background(), img, vmtest.Options{Init: "/sbin/init-crash"})
	if err != nil {
		t.Fatal(err)
	}
	wantGuest(t, res, checkedLines(blobSum))
	if out := dumpe2fsFeatures(t, img); !strings.Contains(out, "needs_recovery") {
		t.Fatalf("after a poweroff without unmount the image should need journal recovery; features: %s", out)
	}
	res, err = m.Boot(context.Background(), img, vmtest.Options{Init: "/sbin/init-verify"})
	if err != nil {
		t.Fatal(err)
	}
	wantGuest(t, res, map[string]string{"NEW": "202 3499", "RANDOM": "OK", "VMTEST-DONE": ""})
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatalf("after journal replay: %v", err)
	}
}

func debugfsCat(t *testing.T, img, path string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", "cat "+path, img).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", path, err)
	}
	return string(out)
}

func dumpe2fsFeatures(t *testing.T, img string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "dumpe2fs"), "-h", img).Output()
	if err != nil {
		t.Fatalf("dumpe2fs -h: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Filesystem features:") {
			return line
		}
	}
	return string(out)
}

// TestBootFailsOnBrokenImage: the harness must not pass an image the
// kernel cannot mount (its superblock zeroed), and must say so quickly.
func TestBootFailsOnBrokenImage(t *testing.T) {
	m := machine(t)
	img, _ := bootImage(t, m, ext4img.Options{NoJournal: true})
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1024), 1024); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err := m.Boot(context.Background(), img, vmtest.Options{Init: "/sbin/init-clean", Timeout: 60 * time.Second})
	if err == nil {
		t.Fatalf("Boot of an image without a superblock succeeded; guest printed:\n%s", res.Guest)
	}
	if !strings.Contains(err.Error(), "never started") || !strings.Contains(res.Console, "cannot mount /dev/vda") {
		t.Errorf("Boot = %v, want the image's init never started after the mount failed", err)
	}
}
