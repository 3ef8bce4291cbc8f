//go:build linux

package ext4patch

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// superCounts is what dumpe2fs -h says of img: its block and inode
// counts and its reserved GDT blocks.
func superCounts(t testing.TB, img string) (blocks, inodes, rsv int64) {
	t.Helper()
	c := exec.Command(testenv.Tool(t, "dumpe2fs"), "-h", img)
	c.Env = append(os.Environ(), "LC_ALL=C")
	out, err := c.Output()
	if err != nil {
		t.Fatalf("dumpe2fs -h %s: %v", img, err)
	}
	field := func(name string) int64 {
		m := regexp.MustCompile(`(?m)^` + name + `:\s+(\d+)$`).FindSubmatch(out)
		if m == nil {
			return 0
		}
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		return n
	}
	return field("Block count"), field("Inode count"), field("Reserved GDT blocks")
}

// openSized opens img for patching (closed when the test ends) and
// returns the file's size.
func openSized(t *testing.T, img string) (*Image, int64) {
	t.Helper()
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	im, err := Open(img, Options{Time: patchTime})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return im, st.Size()
}

// growAndJudge grows img by factor (a put after the grow in the same
// commit when put), then checks that e2fsck finds it clean, dumpe2fs sees
// the new block count, debugfs reads back the tree and the file has the
// new size.
func growAndJudge(t *testing.T, img string, k imageKind, factor int64, put bool) {
	t.Helper()
	base, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	md := newModel(base).clone()
	oldBlocks, oldInodes, _ := superCounts(t, img)
	im, size := openSized(t, img)
	newSize := size * factor
	if err := im.Grow(newSize); err != nil {
		t.Fatal(err)
	}
	if put {
		data := bytes.Repeat([]byte("grown "), 30000)
		if err := im.Put("/etc/after-grow", bytes.NewReader(data), 0o644, 0, 0, patchTime); err != nil {
			t.Fatal(err)
		}
		md.put("/etc/after-grow", data, 0o644, 0, 0, patchTime)
	}
	if err := im.Commit(); err != nil {
		t.Fatal(err)
	}
	checkImage(t, img, md.manifest(), k)
	blocks, inodes, _ := superCounts(t, img)
	bs := size / oldBlocks
	if want := newSize / bs; blocks > want || blocks < want-int64(8*bs) || blocks <= oldBlocks {
		t.Errorf("after Grow(%d): dumpe2fs block count %d, want about %d", newSize, blocks, want)
	}
	if inodes < oldInodes || factor >= 64 && inodes == oldInodes { // 3× of a 4 KiB image stays in its one group
		t.Errorf("after Grow(%d): inode count %d, was %d", newSize, inodes, oldInodes)
	}
	if st, err := os.Stat(img); err != nil {
		t.Fatal(err)
	} else if st.Size() != newSize {
		t.Errorf("after Grow(%d): file size %d", newSize, st.Size())
	}
}

// TestGrow grows every kind of image: ext4img's 64 times (its reserve),
// mke2fs's 64 times too (within its reserve for 1024), a few times with
// a file put after the grow in the same transaction.
func TestGrow(t *testing.T) {
	// Three groups of 1 KiB blocks: the reserve and the resize inode
	// (smaller images of one group need none for 64 times).
	reserved := []imageKind{
		writerKindHeadroom("ext4img-1k-csum-24m", 1024, true, false, 20<<20),
		writerKindHeadroom("ext4img-1k-24m", 1024, false, false, 20<<20),
	}
	for _, k := range append(slices.Clone(kinds), reserved...) {
		for _, c := range []struct {
			factor int64
			put    bool
		}{{64, false}, {3, true}} {
			t.Run(fmt.Sprintf("%s-%dx", k.name, c.factor), func(t *testing.T) {
				t.Parallel()
				img := k.make(t, t.TempDir())
				if _, _, rsv := superCounts(t, img); strings.HasSuffix(k.name, "-24m") && rsv == 0 {
					t.Fatal("the image has no reserved GDT blocks to exercise")
				}
				growAndJudge(t, img, k, c.factor, c.put)
			})
		}
	}
}

// TestGrowRefusals: a shrink, a size past the reserve and a second grow
// are refused with one line, and nothing is staged.
func TestGrowRefusals(t *testing.T) {
	for _, k := range []imageKind{kinds[2], kinds[5]} {
		t.Run(k.name, func(t *testing.T) {
			img := k.make(t, t.TempDir())
			before := digest(t, img)
			im, size := openSized(t, img)
			for _, c := range []struct {
				size int64
				want string
			}{
				{size - 1, "shrinking is not supported"},
				{size * 4096, "it can grow to at most"},
			} {
				err := im.Grow(c.size)
				if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
					t.Errorf("Grow(%d) = %v, want one line with %q", c.size, err, c.want)
				}
			}
			if len(im.staged) != 0 {
				t.Errorf("refused grows staged %d blocks", len(im.staged))
			}
			if err := im.Grow(size * 2); err != nil {
				t.Fatal(err)
			}
			if err := im.Grow(size * 3); err == nil || !strings.Contains(err.Error(), "staged already") {
				t.Errorf("a second Grow = %v, want a refusal", err)
			}
			im.Close()
			if digest(t, img) != before {
				t.Error("the image changed without a Commit")
			}
		})
	}
}
