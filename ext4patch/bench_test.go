//go:build linux

package ext4patch

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// balancedImage writes an image of 25,000 files (the balanced profile's
// size) in 250 directories, with /root, /etc and /etc/sbx.
func balancedImage(b *testing.B) string {
	w := ext4img.NewWriter(ext4img.Options{MetadataCsum: true, Time: ext4tree.ModTime})
	add := func(e ext4img.Entry) {
		if err := w.Add(e); err != nil {
			b.Fatal(err)
		}
	}
	for _, d := range []string{"root", "etc", "etc/sbx", "usr"} {
		add(ext4img.Entry{Path: d, Mode: fs.ModeDir | 0o755})
	}
	add(ext4img.Entry{Path: "etc/hostname", Mode: 0o644, Size: 6, Content: ext4tree.PatternContent(1, 6)})
	for d := range 250 {
		add(ext4img.Entry{Path: fmt.Sprintf("usr/d%03d", d), Mode: fs.ModeDir | 0o755})
		for f := range 100 {
			add(ext4img.Entry{Path: fmt.Sprintf("usr/d%03d/file-%03d.so", d, f), Mode: 0o644,
				Size: int64(f * 97), Content: ext4tree.PatternContent(uint64(f), int64(f*97))})
		}
	}
	p := filepath.Join(b.TempDir(), "balanced.img")
	if err := w.WriteFile(p, 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

var sandboxFiles = []struct{ path, data string }{
	{"/root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey user@host\n"},
	{"/etc/hostname", "sandbox-1\n"},
	{"/etc/sbx/session-env.sh", "export FOO='bar'\n"},
}

// BenchmarkSandboxPatch is the library call a control plane makes per
// sandbox: Open, put keys, hostname and env, Commit (one transaction,
// five fsyncs), Close, on a 25,000-file image.
func BenchmarkSandboxPatch(b *testing.B) {
	img := balancedImage(b)
	for b.Loop() {
		im, err := Open(img, Options{Time: patchTime})
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range sandboxFiles {
			if err := im.Put(f.path, strings.NewReader(f.data), 0o600, 0, 0, patchTime); err != nil {
				b.Fatal(err)
			}
		}
		if err := im.Commit(); err != nil {
			b.Fatal(err)
		}
		im.Close()
	}
}

// BenchmarkSandboxPatchDebugfs is the same patch as today's platforms do
// it: one debugfs -w process per request (patch.md §1's seven).
func BenchmarkSandboxPatchDebugfs(b *testing.B) {
	debugfs := testenv.Tool(b, "debugfs")
	img := balancedImage(b)
	dir := b.TempDir()
	for i, f := range sandboxFiles {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte(f.data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	run := func(req string) {
		exec.Command(debugfs, "-w", "-R", req, img).Run() // mkdir of an existing directory fails: fine
	}
	for b.Loop() {
		run("mkdir /root/.ssh")
		run("rm /root/.ssh/authorized_keys")
		run("write " + filepath.Join(dir, "0") + " /root/.ssh/authorized_keys")
		run("sif /root/.ssh/authorized_keys mode 0100600")
		run("rm /etc/hostname")
		run("write " + filepath.Join(dir, "1") + " /etc/hostname")
		run("mkdir /etc/sbx")
		run("rm /etc/sbx/session-env.sh")
		run("write " + filepath.Join(dir, "2") + " /etc/sbx/session-env.sh")
	}
}

// growBench runs grow (timed) on a fresh sparse copy of the 25,000-file
// image per iteration; the copy, and its fsync (else the first fsync of
// either tool writes the copy's pages), untimed.
func growBench(b *testing.B, grow func(img string, size int64)) {
	base := balancedImage(b)
	st, err := os.Stat(base)
	if err != nil {
		b.Fatal(err)
	}
	img := filepath.Join(b.TempDir(), "work.img")
	for b.Loop() {
		b.StopTimer()
		if out, err := exec.Command("cp", "--sparse=always", base, img).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v\n%s", err, out)
		}
		f, err := os.OpenFile(img, os.O_RDWR, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.StartTimer()
		grow(img, 8*st.Size())
	}
}

// BenchmarkGrow8x grows the 25,000-file image to eight times its size
// with the library: Open, Grow, Commit (one transaction), Close.
func BenchmarkGrow8x(b *testing.B) {
	growBench(b, func(img string, size int64) {
		im, err := Open(img, Options{Time: patchTime})
		if err != nil {
			b.Fatal(err)
		}
		if err := im.Grow(size); err != nil {
			b.Fatal(err)
		}
		if err := im.Commit(); err != nil {
			b.Fatal(err)
		}
		im.Close()
	})
}

// BenchmarkGrow8xResize2fs is the same grow as platforms do it today:
// truncate, then resize2fs.
func BenchmarkGrow8xResize2fs(b *testing.B) {
	resize2fs := testenv.Tool(b, "resize2fs")
	growBench(b, func(img string, size int64) {
		if err := os.Truncate(img, size); err != nil {
			b.Fatal(err)
		}
		if out, err := exec.Command(resize2fs, img).CombinedOutput(); err != nil {
			b.Fatalf("resize2fs: %v\n%s", err, out)
		}
	})
}
