package sbom_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/sbom"
)

// TestFromImageHostile: an image whose apk database claims 1 TiB, or
// whose directory is hard-linked into itself, is an error naming the
// cause, not an allocation of its claimed size or a walk without end.
// The images come from mke2fs -d and are corrupted with debugfs -w, tools
// nobody here wrote. The control: the same image untouched gives a
// document.
func TestFromImageHostile(t *testing.T) {
	tree := t.TempDir()
	for name, f := range installedFS(t, time.Unix(1700000000, 0)) {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.Mode&os.ModeSymlink != 0 {
			if err := os.Symlink(string(f.Data), p); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(tree, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	image := func(name string, debugfs ...string) string {
		t.Helper()
		img := filepath.Join(t.TempDir(), name)
		if out, err := exec.Command(testenv.Tool(t, "mke2fs"), "-q", "-F", "-t", "ext4", "-d", tree, img, "8M").CombinedOutput(); err != nil {
			t.Fatalf("mke2fs: %v\n%s", err, out)
		}
		for _, req := range debugfs {
			if out, err := exec.Command(testenv.Tool(t, "debugfs"), "-w", "-R", req, img).CombinedOutput(); err != nil {
				t.Fatalf("debugfs -w -R %q: %v\n%s", req, err, out)
			}
		}
		return img
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sbom.FromImage(ctx, image("plain.ext4")); err != nil {
		t.Fatalf("the control: FromImage of the untouched image = %v", err)
	}
	for _, tt := range []struct {
		name, debugfs, want string
	}{
		{"huge database", "sif /lib/apk/db/installed size 0x10000000000", "more than the"},
		{"directory loop", "ln /a /a/loop", "met twice"},
	} {
		_, err := sbom.FromImage(ctx, image(tt.name+".ext4", tt.debugfs))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: FromImage = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}
