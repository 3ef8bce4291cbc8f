//go:build linux

package ext4img_test

// Acceptance tests: images written through the public API are judged only by
// e2fsprogs (e2fsck, debugfs, resize2fs) through internal/ext4check.

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
)

// tree is what a test feeds a Writer.
type tree struct {
	entries []ext4img.Entry
	links   []ext4check.Link
	// fsckInPlace runs e2fsck -fy on the image itself instead of a copy
	// (multi-GiB images).
	fsckInPlace bool
}

func (tr *tree) add(e ext4img.Entry) { tr.entries = append(tr.entries, e) }

// writer returns a Writer holding tr, failing the test on any error.
func (tr *tree) writer(t *testing.T, opts ext4img.Options, ctx string) *ext4img.Writer {
	t.Helper()
	w := ext4img.NewWriter(opts)
	for _, e := range tr.entries {
		if err := w.Add(e); err != nil {
			t.Fatalf("%sAdd(%q): %v", ctx, e.Path, err)
		}
	}
	for _, l := range tr.links {
		if err := w.Link(l.Path, l.Target); err != nil {
			t.Fatalf("%sLink(%q, %q): %v", ctx, l.Path, l.Target, err)
		}
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
	fsck := ext4check.Fsck
	if tr.fsckInPlace {
		fsck = ext4check.FsckInPlace
	}
	if err := fsck(t, img); err != nil {
		t.Fatalf("%s%v", ctx, err)
	}
	want, err := ext4check.FromEntries(tr.entries, tr.links)
	if err != nil {
		t.Fatalf("%s%v", ctx, err)
	}
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

// pattern is a deterministic, never-zero byte stream of a given length,
// generated as it is read: each 8-byte word depends on its offset and the
// seed, so misplaced blocks change the digest.
type pattern struct {
	seed      uint64
	off, size int64
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	if rest := p.size - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	n := 0
	for n < len(b) {
		word := uint64(p.off+int64(n)) >> 3
		v := (word*0x9e3779b97f4a7c15 ^ p.seed) | 0x0101010101010101
		if (p.off+int64(n))&7 == 0 && len(b)-n >= 8 {
			binary.LittleEndian.PutUint64(b[n:], v)
			n += 8
			continue
		}
		b[n] = byte(v >> (8 * ((p.off + int64(n)) & 7)))
		n++
	}
	p.off += int64(n)
	return n, nil
}

func patternContent(seed uint64, size int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(&pattern{seed: seed, size: size}), nil }
}

// bigTree has every entry kind the writer supports, a 50,000-entry
// directory and a file over 4 GiB.
func bigTree(hugeSize int64) *tree {
	tr := &tree{}
	t0 := time.Date(2024, 2, 29, 12, 34, 56, 789000000, time.UTC)
	dir := func(p string, perm fs.FileMode) {
		tr.add(ext4img.Entry{Path: p, Mode: fs.ModeDir | perm, ModTime: t0})
	}
	tr.add(ext4img.Entry{Path: "", Mode: fs.ModeDir | 0o755, UID: 0, GID: 0, ModTime: t0.Add(time.Hour),
		Xattrs: map[string][]byte{"user.root": []byte("top")}})
	dir("many", 0o755)
	for i := range 50000 {
		tr.add(ext4img.Entry{Path: fmt.Sprintf("many/entry-%05d%s", i, strings.Repeat("x", i%60)),
			Mode: 0o644, ModTime: t0.Add(time.Duration(i) * time.Second)})
	}
	tr.add(ext4img.Entry{Path: "huge", Mode: 0o600, UID: 1000, GID: 1000, ModTime: t0,
		Size: hugeSize, Content: patternContent(42, hugeSize)})
	for i, size := range []int64{1, 59, 60, 4095, 4096, 4097, 1 << 20, 3<<20 + 5} {
		tr.add(ext4img.Entry{Path: fmt.Sprintf("size-%d", size), Mode: 0o644, ModTime: t0,
			Size: size, Content: patternContent(uint64(i), size)})
	}
	long := strings.Repeat("n", 255)
	utf8 := strings.Repeat("名", 85) // 255 bytes
	dir("names", 0o755)
	tr.add(ext4img.Entry{Path: "names/" + long, Mode: 0o644, ModTime: t0})
	tr.add(ext4img.Entry{Path: "names/" + utf8, Mode: 0o644, ModTime: t0})
	tr.add(ext4img.Entry{Path: "names/ünïcødé ☃ \x7f\x01", Mode: 0o644, ModTime: t0})
	dir("names/"+long[:254]+"d", 0o700)

	dir("modes", 0o755)
	tr.add(ext4img.Entry{Path: "modes/setuid", Mode: fs.ModeSetuid | 0o755, ModTime: t0, Size: 3, Content: patternContent(7, 3)})
	tr.add(ext4img.Entry{Path: "modes/setgid", Mode: fs.ModeSetgid | 0o755, ModTime: t0})
	tr.add(ext4img.Entry{Path: "modes/all", Mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777, ModTime: t0})
	tr.add(ext4img.Entry{Path: "modes/none", Mode: 0, ModTime: t0})
	dir("modes/tmp", 0o777)
	tr.entries[len(tr.entries)-1].Mode |= fs.ModeSticky
	tr.add(ext4img.Entry{Path: "modes/sgid-dir", Mode: fs.ModeDir | fs.ModeSetgid | 0o775, ModTime: t0})

	dir("owners", 0o755)
	tr.add(ext4img.Entry{Path: "owners/big", Mode: 0o644, UID: 4000000000, GID: 4294967294, ModTime: t0})
	tr.add(ext4img.Entry{Path: "owners/nobody", Mode: 0o644, UID: 65534, GID: 65534, ModTime: t0})
	tr.add(ext4img.Entry{Path: "owners/17bit", Mode: 0o644, UID: 70000, GID: 131072, ModTime: t0})

	dir("times", 0o755)
	for _, tm := range []time.Time{
		time.Unix(0, 0), time.Unix(1, 999999999), time.Date(1960, 5, 6, 7, 8, 9, 1, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC), time.Date(2106, 2, 7, 6, 28, 16, 5, time.UTC),
		time.Date(2400, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		tr.add(ext4img.Entry{Path: "times/" + tm.Format(time.RFC3339Nano), Mode: 0o644, ModTime: tm})
	}

	dir("links", 0o755)
	tr.add(ext4img.Entry{Path: "links/fast", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: "../size-1"})
	tr.add(ext4img.Entry{Path: "links/fast59", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: strings.Repeat("f", 59)})
	tr.add(ext4img.Entry{Path: "links/slow60", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: strings.Repeat("s", 60)})
	tr.add(ext4img.Entry{Path: "links/slow4095", Mode: fs.ModeSymlink | 0o777, UID: 5, GID: 6, ModTime: t0,
		Linkname: strings.Repeat("abc/", 1023) + "xyz"})
	tr.add(ext4img.Entry{Path: "links/target", Mode: 0o640, ModTime: t0, Size: 10000, Content: patternContent(9, 10000),
		Xattrs: map[string][]byte{"user.linked": []byte("yes")}})
	tr.links = append(tr.links, ext4check.Link{Path: "links/hard1", Target: "links/target"},
		ext4check.Link{Path: "many/hard2", Target: "links/target"},
		ext4check.Link{Path: "names/hard-fifo", Target: "dev/fifo"})

	dir("dev", 0o755)
	tr.add(ext4img.Entry{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, ModTime: t0, Devmajor: 1, Devminor: 3})
	tr.add(ext4img.Entry{Path: "dev/big-minor", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, ModTime: t0, Devmajor: 4095, Devminor: 1<<20 - 1})
	tr.add(ext4img.Entry{Path: "dev/nvme0n1p1", Mode: fs.ModeDevice | 0o660, GID: 6, ModTime: t0, Devmajor: 259, Devminor: 70000})
	tr.add(ext4img.Entry{Path: "dev/sda", Mode: fs.ModeDevice | 0o660, ModTime: t0, Devmajor: 8, Devminor: 0})
	tr.add(ext4img.Entry{Path: "dev/fifo", Mode: fs.ModeNamedPipe | 0o644, ModTime: t0})
	tr.add(ext4img.Entry{Path: "dev/log", Mode: fs.ModeSocket | 0o666, ModTime: t0})

	dir("xattrs", 0o755)
	capV := []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	tr.add(ext4img.Entry{Path: "xattrs/cap", Mode: 0o755, ModTime: t0, Size: 8, Content: patternContent(3, 8),
		Xattrs: map[string][]byte{"security.capability": capV}})
	tr.add(ext4img.Entry{Path: "xattrs/small", Mode: 0o644, ModTime: t0,
		Xattrs: map[string][]byte{"user.a": []byte("1"), "user.empty": {}, "trusted.t": []byte("t\x00\xff")}})
	big := map[string][]byte{"user.big": []byte(strings.Repeat("0123456789", 70)), "security.capability": capV}
	tr.add(ext4img.Entry{Path: "xattrs/block", Mode: 0o644, ModTime: t0, Xattrs: big})
	tr.add(ext4img.Entry{Path: "xattrs/block-shared", Mode: 0o644, ModTime: t0, Xattrs: big})
	many := map[string][]byte{}
	for i := range 20 {
		many[fmt.Sprintf("user.attr%02d", i)] = []byte(strings.Repeat("v", i))
	}
	tr.add(ext4img.Entry{Path: "xattrs/many", Mode: 0o644, ModTime: t0, Xattrs: many})
	tr.add(ext4img.Entry{Path: "xattrs/dir", Mode: fs.ModeDir | 0o755, ModTime: t0, Xattrs: big})
	tr.add(ext4img.Entry{Path: "xattrs/symlink", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: "cap",
		Xattrs: map[string][]byte{"user.l": []byte("on a link")}})

	dir("deep", 0o755)
	p := "deep"
	for i := range 30 {
		p += fmt.Sprintf("/%d", i)
		dir(p, 0o755)
	}
	dir("empty-dir", 0o500)
	return tr
}

// TestAcceptBigTree writes every entry kind, a 50,000-entry directory and
// a file over 4 GiB, then reads all of it back with debugfs.
func TestAcceptBigTree(t *testing.T) {
	huge := int64(4<<30 + 12345)
	if testing.Short() {
		huge = 5<<20 + 3 // the rest of the tree still runs
	}
	tr := bigTree(huge)
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
	tr := bigTree(7<<20 + 1)
	for i, e := range tr.entries {
		if len(e.Linkname) > 1023 { // a symlink target fits one block
			tr.entries[i].Linkname = e.Linkname[:1023]
		}
	}
	img, _ := tr.build(t, ext4img.Options{BlockSize: 1024, NoJournal: true, Time: time.Unix(1700000000, 0)}, "")
	tr.check(t, img, "")
}

// TestAcceptReproducible builds one tree twice: the images must be
// byte-identical.
func TestAcceptReproducible(t *testing.T) {
	var sums [2][32]byte
	for i := range sums {
		tr := bigTree(1<<20 + 7)
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
			if err := ext4check.Fsck(t, img); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of one tree: sha256 %x and %x, want equal", sums[0], sums[1])
	}
}
