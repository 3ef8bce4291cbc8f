package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestLsCatCompressed (issue 16, the frictions): ls and cat read an image
// compressed by the system's zstd and xz as they read it raw (before:
// "magic 0x026c is not ext2/3/4's"), through a temporary file that is
// gone afterwards; a compressed file that is no image says so, naming
// the compression.
func TestLsCatCompressed(t *testing.T) {
	img, _ := lsImage(t, ext4img.Options{Time: lsTime, BlockSize: 1024})
	wantLs, err := runApp("ls", "-R", img)
	if err != nil {
		t.Fatal(err)
	}
	wantCat, err := runApp("cat", img, "/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	notImage := filepath.Join(t.TempDir(), "notimage")
	if err := os.WriteFile(notImage, []byte(strings.Repeat("not an image\n", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, tool := range []struct{ name, ext string }{{"zstd", ".zst"}, {"xz", ".xz"}} {
		compressed := img + tool.ext
		if out, err := exec.Command(testenv.Tool(t, tool.name), "-q", "-k", "-c", img).Output(); err != nil {
			t.Fatalf("%s: %v", tool.name, err)
		} else if err := os.WriteFile(compressed, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := runApp("ls", "-R", compressed); err != nil || got != wantLs {
			t.Errorf("ls -R of the %s image = %v\n%s\nwant as of the raw image:\n%s", tool.name, err, got, wantLs)
		}
		if got, err := runApp("cat", compressed, "/etc/os-release"); err != nil || got != wantCat {
			t.Errorf("cat /etc/os-release of the %s image = %q, %v; want %q", tool.name, got, err, wantCat)
		}
		// Not an image, compressed.
		bad := notImage + tool.ext
		if out, err := exec.Command(testenv.Tool(t, tool.name), "-q", "-k", "-c", notImage).Output(); err != nil {
			t.Fatalf("%s: %v", tool.name, err)
		} else if err := os.WriteFile(bad, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := runApp("ls", bad); err == nil || !strings.Contains(err.Error(), tool.name+"-compressed") || !strings.Contains(err.Error(), "not ext2/3/4") {
			t.Errorf("ls of a %s-compressed non-image = %v, want an error saying it is %s-compressed and not ext4", tool.name, err, tool.name)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("TMPDIR holds %s after ls and cat, want nothing", ents[0].Name())
	}
}
