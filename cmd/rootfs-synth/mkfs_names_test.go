//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestMkfsNonUTF8Name: a file whose name is not UTF-8 (Latin-1 "café")
// is copied with its content, as before the walk read files through
// Options.Files (whose fs.ValidPath check refused the name).
func TestMkfsNonUTF8Name(t *testing.T) {
	src := t.TempDir()
	name := "caf\xe9"
	if err := os.Mkdir(filepath.Join(src, "d\xff"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{name, "d\xff/" + name} {
		if err := os.WriteFile(filepath.Join(src, p), []byte("latin1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	w := walkTestImage(t, src)
	img := filepath.Join(t.TempDir(), "img")
	if _, err := writeImage(ctx, src, w, img); err != nil {
		t.Fatalf("writing the image of a tree with the file %q: %v", name, err)
	}
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", "cat \"/d\xff/"+name+"\"", img).Output()
	if err != nil || string(out) != "latin1\n" {
		t.Errorf("debugfs cat of /d\\xff/%q = %q, %v; want %q", name, out, err, "latin1\n")
	}
}
