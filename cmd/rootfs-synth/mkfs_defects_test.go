//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
	"github.com/rootfs-synth/rootfs-synth/internal/hosttree"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// walkTestImage walks src into a new image Writer with default options.
func walkTestImage(t *testing.T, src string) *ext4img.Writer {
	t.Helper()
	dir, err := hosttree.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	w, _, err := hosttree.NewWriter(context.Background(), dir, hosttree.Options{UID: -1}, ext4img.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// emptyDir returns a new directory every user may write, for outputs.
func emptyDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testenv.WorldDir(t), "out")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

func assertEmpty(t *testing.T, dir, what string) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		var names []string
		for _, de := range left {
			names = append(names, de.Name())
		}
		t.Errorf("%s left %q in %s, want nothing", what, names, dir)
	}
}

// TestMkfsSwappedAfterWalk: a file replaced between the walk and the
// write is an error naming it, never a hang (a FIFO) or a wrong image.
// (A file replaced by another of the same size is read as it is then,
// as mke2fs -d would: the walk keeps no identity per file.)
func TestMkfsSwappedAfterWalk(t *testing.T) {
	tests := []struct {
		name string
		swap func(p string) error
		want string
	}{
		{"fifo", func(p string) error { os.Remove(p); return syscall.Mkfifo(p, 0o644) }, "no longer a regular file"},
		{"grown", func(p string) error { return os.WriteFile(p, []byte("a longer name\n"), 0o644) }, "14 bytes, was 3"},
		{"symlink", func(p string) error { os.Remove(p); return os.Symlink("/etc/passwd", p) }, "symbolic link"},
		{"directory", func(p string) error { os.Remove(p); return os.Mkdir(p, 0o755) }, "no longer a regular file"},
		{"gone", func(p string) error { return os.Remove(p) }, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "tree")
			testenv.HostTree(t, src)
			ctx := context.Background()
			w := walkTestImage(t, src)
			victim := filepath.Join(src, "etc/hostname")
			if err := tt.swap(victim); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "img")
			done := make(chan error, 1)
			go func() {
				_, err := writeImage(ctx, src, w, out)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				// Unblock the open(2) that waits for a FIFO writer.
				if fd, err := syscall.Open(victim, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					defer syscall.Close(fd)
				}
				t.Fatalf("writing the image of a tree whose %s became a %s: still blocked after 30s", victim, tt.name)
			}
			// The source and the path in it name the file, and so does
			// the host path where the open itself failed.
			if err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), "etc/hostname") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("writing the image after %s became a %s: %v, want an error naming it and saying %q", victim, tt.name, err, tt.want)
			}
			assertEmpty(t, filepath.Dir(out), "a failed write")
		})
	}
}

// TestMkfsSignalLeavesNothing: SIGINT, SIGTERM or SIGHUP in the middle of
// the write ends the real binary with exit status 128+n (130, 143, 129, as
// shells expect of a signal), one line on stderr,
// and nothing in the output directory: no image, no temporary file.
func TestMkfsSignalLeavesNothing(t *testing.T) {
	// 4 GiB of sparse files with a block of data every MiB: cheap to
	// make, seconds to read and write.
	src := filepath.Join(testenv.WorldDir(t), "tree")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	block := bytes.Repeat([]byte{0xa5}, 4096)
	for i := range 16 {
		f, err := os.Create(filepath.Join(src, fmt.Sprintf("big%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < 256<<20; off += 1 << 20 {
			if _, err := f.WriteAt(block, off); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			out := emptyDir(t)
			img := filepath.Join(out, "x.img")
			c := testenv.Unprivileged(t, testenv.Binary(t), "mkfs", "--no-journal", src, "-o", img)
			var stderr bytes.Buffer
			c.Stderr = &stderr
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- c.Wait() }()
			var err error
		poll:
			for deadline := time.Now().Add(time.Minute); ; {
				select {
				case err = <-exited:
					t.Fatalf("rootfs-synth mkfs ended (%v) before the temporary image appeared\n%s", err, stderr.String())
				default:
				}
				if tmp, _ := filepath.Glob(filepath.Join(out, ".x.img.tmp-*")); len(tmp) > 0 {
					break poll
				}
				if time.Now().After(deadline) {
					c.Process.Kill()
					t.Fatal("no temporary image after a minute")
				}
				time.Sleep(2 * time.Millisecond)
			}
			if err := c.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = <-exited
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Errorf("rootfs-synth mkfs after %v: %v, want exit status %d\n%s", sig, err, 128+int(sig), stderr.String())
			}
			var lines []string // the warnings aside (a root-owned tree has one)
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if !strings.HasPrefix(l, "rootfs-synth: warning: ") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], "stopped (") || !strings.Contains(lines[0], "not written") {
				t.Errorf("rootfs-synth mkfs after %v said %q, want one line saying it stopped and wrote nothing", sig, stderr.String())
			}
			assertEmpty(t, out, "rootfs-synth mkfs after "+sig.String())
		})
	}
}

// TestMkfsRefusesOutput: -o naming a symlink, a directory, a FIFO or (as
// root) a device node is refused before the walk, and the name is left as
// it was.
func TestMkfsRefusesOutput(t *testing.T) {
	src := hostTreeDir(t)
	out := emptyDir(t)
	target := filepath.Join(out, "target.img")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(target, []byte("old"), 0o666))
	must(os.Chmod(target, 0o666))
	must(os.Symlink(target, filepath.Join(out, "link.img")))
	must(os.Mkdir(filepath.Join(out, "dir.img"), 0o777))
	must(syscall.Mkfifo(filepath.Join(out, "fifo.img"), 0o666))
	tests := []struct{ name, want string }{
		{"link.img", "refusing to replace a symbolic link"},
		{"dir.img", "refusing to replace a directory"},
		{"fifo.img", "refusing to replace a FIFO"},
	}
	if os.Geteuid() == 0 {
		must(syscall.Mknod(filepath.Join(out, "vdb"), syscall.S_IFBLK|0o666, 254<<8|16))
		tests = append(tests, struct{ name, want string }{"vdb", "refusing to replace a block device"})
	}
	for _, tt := range tests {
		p := filepath.Join(out, tt.name)
		before, err := os.Lstat(p)
		must(err)
		got, err := mkfs(t, nil, src, "-o", p)
		if err == nil || !strings.Contains(got, tt.want) {
			t.Errorf("rootfs-synth mkfs -o %s: %v, %q, want an error saying %q", tt.name, err, got, tt.want)
		}
		if after, err := os.Lstat(p); err != nil || after.Mode() != before.Mode() {
			t.Errorf("rootfs-synth mkfs -o %s changed it: %v, %v, was %v", tt.name, after.Mode(), err, before.Mode())
		}
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "old" {
		t.Errorf("the symlink's target holds %q, %v, want it untouched", b, err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(out, ".*")); len(tmp) > 0 {
		t.Errorf("refused runs left %v", tmp)
	}
}

// TestMkfsFlagValueMissing: `mkfs SRC -o` is a usage error (exit status 2)
// that writes nothing, not an image named "--".
func TestMkfsFlagValueMissing(t *testing.T) {
	src := hostTreeDir(t)
	out := emptyDir(t)
	for _, args := range [][]string{{src, "-o"}, {"-o"}, {src}, {src, "-o", "--", "x"}, {src, "--bogus", "-o", "x.img"}} {
		c := testenv.Unprivileged(t, testenv.Binary(t), append([]string{"mkfs"}, args...)...)
		c.Dir = out
		got, err := c.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || strings.Count(string(got), "\n") != 1 {
			t.Errorf("rootfs-synth mkfs %q: %v, %q, want exit status 2 and one line", args, err, got)
		}
		assertEmpty(t, out, fmt.Sprintf("rootfs-synth mkfs %q", args))
	}
}

// TestMkfsDeepTree: a tree whose paths are longer than PATH_MAX (4096
// bytes) is copied, as mke2fs -d copies it: contents, xattrs, symlinks.
func TestMkfsDeepTree(t *testing.T) {
	src := filepath.Join(testenv.WorldDir(t), "tree")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(src, 0o755))
	r, err := os.OpenRoot(src)
	must(err)
	defer r.Close()
	var deep string
	for i := range 24 { // 24 × 201 bytes
		deep = path.Join(deep, fmt.Sprintf("%02d%s", i, strings.Repeat("d", 198)))
	}
	must(r.MkdirAll(deep, 0o755))
	must(r.WriteFile(deep+"/file", []byte("at the bottom\n"), 0o644))
	must(r.Symlink("file", deep+"/link"))
	f, err := r.Open(deep)
	must(err)
	must(hostfs.SetXattr(fmt.Sprintf("/proc/self/fd/%d/file", f.Fd()), "user.deep", []byte("yes")))
	f.Close()
	if p := filepath.Join(src, deep, "file"); len(p) <= 4096 {
		t.Fatalf("deepest path is %d bytes, want more than PATH_MAX", len(p))
	}

	img := filepath.Join(filepath.Dir(src), "deep.img")
	if out, err := mkfs(t, nil, src, "-o", img); err != nil {
		t.Fatalf("rootfs-synth mkfs of a deep tree: %v\n%s", err, out)
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	file, link := got["/"+deep+"/file"], got["/"+deep+"/link"]
	if file == nil || file.Size != 14 || file.Xattrs["user.deep"] != "yes" {
		t.Errorf("deepest file in the image = %+v, want 14 bytes with user.deep=yes", file)
	}
	if link == nil || link.Type != 'l' || link.Target != "file" {
		t.Errorf("deepest symlink in the image = %+v, want a link to file", link)
	}
	if n := len(got); n != 1+24+2+1 { // root, directories, file, link, lost+found
		t.Errorf("image has %d paths, want %d", n, 1+24+2+1)
	}
}

// TestMkfsWarnings: a file from the future is kept but does not become the
// superblock's time (e2fsck finds the image clean), with one warning; an
// unprivileged run over entries of other users warns that their trusted.*
// xattrs cannot be read.
func TestMkfsWarnings(t *testing.T) {
	src := hostTreeDir(t)
	future := time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, rel := range []string{"etc/apk/world", "usr/bin/busybox"} {
		if err := os.Chtimes(filepath.Join(src, rel), future, future); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := hostfs.SetXattr(filepath.Join(src, "etc/hostname"), "trusted.note", []byte("root only")); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(filepath.Dir(src), "warn.img")
	c := testenv.Unprivileged(t, testenv.Binary(t), "mkfs", src, "-o", img)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("rootfs-synth mkfs: %v\n%s", err, stderr.String())
	}
	t.Logf("stderr:\n%s", stderr.String())
	wantLines := []string{"2 entries have an mtime after the build started (first: /etc/apk/world, 2099-01-02T03:04:05Z)"}
	if os.Geteuid() == 0 {
		wantLines = append(wantLines, "trusted.* xattrs are invisible to this user")
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != len(wantLines) {
		t.Errorf("rootfs-synth mkfs printed %d lines on stderr, want %d: %q", len(lines), len(wantLines), lines)
	}
	for _, w := range wantLines {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("rootfs-synth mkfs: stderr = %q, want a warning containing %q", stderr.String(), w)
		}
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	if n := got["/usr/bin/busybox"]; n == nil || n.Mtime != future.Unix() {
		t.Errorf("/usr/bin/busybox = %+v, want it to keep mtime %d", n, future.Unix())
	}
	// --help says what the warnings are about.
	help, err := exec.Command(testenv.Binary(t), "mkfs", "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"mtime after the build started", "trusted.* xattrs"} {
		if !strings.Contains(strings.Join(strings.Fields(string(help)), " "), w) {
			t.Errorf("rootfs-synth mkfs --help does not mention %q:\n%s", w, help)
		}
	}
}
