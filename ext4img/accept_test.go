//go:build linux

package ext4img_test

// Acceptance tests: images written through the public API are judged only by
// e2fsprogs (e2fsck, debugfs, resize2fs) through internal/ext4check.

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
)

// tree is what a test feeds a Writer, and how to check the image.
type tree struct {
	ext4tree.Tree
	// fsckInPlace runs e2fsck -fy on the image itself instead of a copy
	// (multi-GiB images).
	fsckInPlace bool
}

// writer returns a Writer holding tr, failing the test on any error.
func (tr *tree) writer(t *testing.T, opts ext4img.Options, ctx string) *ext4img.Writer {
	t.Helper()
	w := ext4img.NewWriter(opts)
	if err := tr.AddTo(w); err != nil {
		t.Fatalf("%s%v", ctx, err)
	}
	return w
}

// build writes tr to a new image file and returns its path and layout.
func (tr *tree) build(t *testing.T, opts ext4img.Options, ctx string) (string, *ext4img.Layout) {
	t.Helper()
	w := tr.writer(t, opts, ctx)
	layout, err := w.Layout()
	if err != nil {
		t.Fatalf("%sLayout: %v", ctx, err)
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatalf("%sWriteFile: %v", ctx, err)
	}
	if fi, err := os.Stat(img); err != nil || fi.Size() != layout.Size() {
		t.Fatalf("%simage size = %v (%v), want Layout().Size() = %d", ctx, fi.Size(), err, layout.Size())
	}
	return img, layout
}

// check runs e2fsck on img and compares what debugfs reads back with tr.
func (tr *tree) check(t *testing.T, img, ctx string) ext4check.Manifest {
	t.Helper()
	fsck := e2fsck.Check
	if tr.fsckInPlace {
		fsck = e2fsck.CheckInPlace
	}
	if err := fsck(t, img); err != nil {
		t.Fatalf("%s%v", ctx, err)
	}
	want, err := ext4check.FromEntries(tr.Entries, tr.Links)
	if err != nil {
		t.Fatalf("%s%v", ctx, err)
	}
	want = ext4tree.DebugfsACLs(want)
	start := time.Now()
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatalf("%s%v", ctx, err)
	}
	if len(got) > 10000 {
		t.Logf("%sdebugfs read back %d paths in %v", ctx, len(got), time.Since(start).Round(time.Millisecond))
	}
	if diffs := ext4check.Compare(want, got, ext4check.Options{}); len(diffs) > 0 {
		if len(diffs) > 50 {
			diffs = append(diffs[:50], fmt.Sprintf("... and %d more", len(diffs)-50))
		}
		t.Errorf("%simage read back by debugfs differs from the entries:\n%s", ctx, strings.Join(diffs, "\n"))
	}
	return got
}

// bigTree is ext4tree.EveryKind with a 50,000-entry directory of empty
// files and a file of hugeSize bytes, for blockSize-byte blocks (0: 4 KiB).
func bigTree(hugeSize int64, blockSize int) *tree {
	return &tree{Tree: *ext4tree.EveryKind(ext4tree.Options{BigDir: 50000, HugeSize: hugeSize, BlockSize: blockSize})}
}

// TestAcceptBigTree writes every entry kind, a 50,000-entry directory and
// a file over 4 GiB, then reads all of it back with debugfs.
func TestAcceptBigTree(t *testing.T) {
	huge := int64(4<<30 + 12345)
	if testing.Short() {
		huge = 5<<20 + 3 // the rest of the tree still runs
	}
	tr := bigTree(huge, 0)
	tr.fsckInPlace = true
	img, layout := tr.build(t, ext4img.Options{Time: time.Unix(1700000000, 0)}, "")
	t.Logf("big tree: %d blocks of %d, %d inodes, %d groups", layout.Blocks, layout.BlockSize, layout.Inodes, layout.Groups)
	got := tr.check(t, img, "")
	if n := got["/huge"]; n == nil || n.Size != huge {
		t.Errorf("/huge read back as %+v, want %d bytes", n, huge)
	}
}

// TestAcceptBigTree1K is the same tree with 1 KiB blocks and no journal,
// minus the huge file (the layout code paths differ by block size).
func TestAcceptBigTree1K(t *testing.T) {
	tr := bigTree(7<<20+1, 1024)
	img, _ := tr.build(t, ext4img.Options{BlockSize: 1024, NoJournal: true, Time: time.Unix(1700000000, 0)}, "")
	tr.check(t, img, "")
}

// TestAcceptReproducible builds one tree twice: the images must be
// byte-identical.
func TestAcceptReproducible(t *testing.T) {
	var sums [2][32]byte
	for i := range sums {
		tr := bigTree(1<<20+7, 0)
		img, _ := tr.build(t, ext4img.Options{}, "")
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		copy(sums[i][:], h.Sum(nil))
		if i == 0 {
			if err := e2fsck.Check(t, img); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of one tree: sha256 %x and %x, want equal", sums[0], sums[1])
	}
}
