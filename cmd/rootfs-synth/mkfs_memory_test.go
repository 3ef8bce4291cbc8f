//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestMkfsMillionEntries: the real binary, run as an ordinary user,
// writes a 1,000,000-entry tree with a peak RSS under 256 MiB (before
// the walk streamed into the writer and the writer shrank: 1,046 MiB),
// and the image is e2fsck-clean. Most files are empty so the tree is
// cheap to make and the image small; their nodes cost the writer what
// any file's does. bench/mkfs-vs-mke2fs.sh measures a 1,000,000-file
// tree with 500 MB of contents against mke2fs -d.
func TestMkfsMillionEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 1,000,000 files")
	}
	const dirs, perDir = 1000, 999 // 1,000,000 entries with the directories, and the root
	// The tree on tmpfs (a page per file with content, and the kernel's
	// inodes), the 340 MB image (sparse: its inode tables) on disk.
	src := filepath.Join(testenv.MemDir(t, 256<<20), "tree")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.FlatTree(t, src, dirs, perDir)
	img := filepath.Join(testenv.WorldDir(t), "million.img")
	c := testenv.Unprivileged(t, testenv.Binary(t), "mkfs", src, "-o", img)
	c.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	rss, out := peakRSS(t, c) // fails the test if mkfs fails
	if !strings.Contains(out, "1000001 entries") {
		t.Errorf("rootfs-synth mkfs said %q, want 1000001 entries (the root too)", out)
	}
	t.Logf("peak RSS %.1f MiB for 1,000,000 entries", float64(rss)/(1<<20))
	if rss >= 256<<20 {
		t.Errorf("rootfs-synth mkfs of 1,000,000 entries peaked at %.1f MiB of RSS, want under 256 MiB", float64(rss)/(1<<20))
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
}
