//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestBuildOverlayFileOverDirectory: a --files directory holding a
// regular file named etc does not replace the image's /etc: the build
// fails naming the --files directory and the path, and leaves no image.
func TestBuildOverlayFileOverDirectory(t *testing.T) {
	m := newMirror(t)
	overlay := filepath.Join(testenv.WorldDir(t), "overlay")
	if err := os.MkdirAll(overlay, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(overlay, "etc"), []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(testenv.WorldDir(t), "out")
	args := append(m.trusted(), "--profile", "none", "-p", "app", "--files", overlay, "-o", filepath.Join(out, "img.ext4"))
	_, stderr, code := runCmd(t, m.command(t, nil, args...))
	checkFailure(t, args, stderr, code, `--files `+overlay+`: "etc" is a regular file where the image has a directory /etc`)
	checkNothingLeft(t, out, filepath.Join(m.home, "cache", "rootfs-synth"))
}
