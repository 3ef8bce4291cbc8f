package ext4img

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// dirEntries lists dir, for checking that nothing was left behind.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestSizeTooSmall(t *testing.T) {
	w := NewWriter(Options{Size: 1 << 20, NoJournal: true})
	if err := w.Add(Entry{Path: "big", Mode: 0o644, Size: 3 << 20, Content: bytesContent(make([]byte, 3<<20))}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err := w.WriteFile(filepath.Join(dir, "img"), 0o644)
	if err == nil || !strings.Contains(err.Error(), "size 1048576 given") || !strings.Contains(err.Error(), "needs 3") {
		t.Fatalf("WriteFile with too small a size = %v, want an error naming both sizes", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("WriteFile failed but left %v", names)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

func TestWriteFileContentErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		size    int64
		content func() (io.ReadCloser, error)
		want    string
	}{
		{"short", 10000, bytesContent(make([]byte, 9000)), `reading "f": content ends after 9000 of 10000 bytes`},
		{"long", 10000, bytesContent(make([]byte, 10001)), `reading "f": content is longer than 10000 bytes`},
		{"long empty", 0, bytesContent([]byte("x")), `reading "f": content is longer than 0 bytes`},
		{"open fails", 10, func() (io.ReadCloser, error) { return nil, errors.New("no such blob") }, `opening "f": no such blob`},
		{"read fails", 100000, func() (io.ReadCloser, error) { return io.NopCloser(&failingReader{n: 5000}), nil }, "disk on fire"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(Options{})
			if err := w.Add(Entry{Path: "f", Mode: 0o644, Size: tt.size, Content: tt.content}); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			img := filepath.Join(dir, "img")
			err := w.WriteFile(img, 0o644)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WriteFile = %v, want error containing %q", err, tt.want)
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Errorf("WriteFile failed but left %v", names)
			}
		})
	}
}

// tinyTree adds a small tree: a few directories and files.
func tinyTree(t testing.TB, w *Writer, files int) {
	t.Helper()
	for d := range 4 {
		if err := w.Add(Entry{Path: fmt.Sprintf("d%d", d), Mode: fs.ModeDir | 0o755, ModTime: testTime}); err != nil {
			t.Fatal(err)
		}
		for f := range files / 4 {
			b := randomBytes(1000+f*37, uint64(f))
			if err := w.Add(Entry{Path: fmt.Sprintf("d%d/f%d", d, f), Mode: 0o644, ModTime: testTime, Size: int64(len(b)), Content: bytesContent(b)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRightSizeHeadroom: a right-sized image has the headroom asked for
// available beyond the kernel's reserve (Layout.AvailableBlocks; the
// default image used to have DefaultHeadroomBytes free, of which a guest
// saw up to 16 MiB less), and one block less would not.
func TestRightSizeHeadroom(t *testing.T) {
	for _, tt := range []struct {
		opts                     Options
		wantBlocks, wantInodes   int64 // minimum available blocks, free inodes
		maxBlocks, maxInodesFree int64 // rounding slack allowed above that
	}{
		{Options{}, DefaultHeadroomBytes / 4096, DefaultHeadroomInodes, 64, 16},
		{Options{HeadroomBlocks: 100, HeadroomInodes: 10}, 100, 10, 64, 16},
		{Options{HeadroomBlocks: -1, HeadroomInodes: -1, NoJournal: true}, 0, 0, 64, 16},
		{Options{BlockSize: 1024, HeadroomBlocks: 5000, HeadroomInodes: 300}, 5000, 300, 64, 8},
		{Options{HeadroomBlocks: 300000}, 300000, DefaultHeadroomInodes, 64, 16}, // reserve capped at 4096
	} {
		w := NewWriter(tt.opts)
		tinyTree(t, w, 200)
		l, err := w.planned()
		if err != nil {
			t.Fatal(err)
		}
		if want := max(0, l.FreeBlocks-min(l.Blocks/50, 4096)); l.AvailableBlocks != want {
			t.Errorf("Layout(%+v).AvailableBlocks = %d, want %d (free %d less the kernel's reserve)", tt.opts, l.AvailableBlocks, want, l.FreeBlocks)
		}
		avail := l.AvailableBlocks
		if tt.wantBlocks == 0 {
			avail = l.FreeBlocks // no headroom: no reserve added either
		}
		if avail < tt.wantBlocks || avail > tt.wantBlocks+tt.maxBlocks {
			t.Errorf("Layout(%+v): %d blocks available (%d free), want %d (+%d)", tt.opts, avail, l.FreeBlocks, tt.wantBlocks, tt.maxBlocks)
		}
		if int64(l.FreeInodes) < tt.wantInodes || int64(l.FreeInodes) > tt.wantInodes+tt.maxInodesFree*int64(l.Groups) {
			t.Errorf("Layout(%+v).FreeInodes = %d, want %d (+%d per group)", tt.opts, l.FreeInodes, tt.wantInodes, tt.maxInodesFree)
		}
		// One block less must not hold the same headroom.
		p, err := w.prepare()
		if err != nil {
			t.Fatal(err)
		}
		inodes := int64(l.lastIno) + tt.wantInodes
		if sl, _ := p.allocate(uint32(l.Blocks-1), inodes, l.bpg); sl != nil {
			if a := sl.AvailableBlocks; (tt.wantBlocks == 0 && sl.FreeBlocks >= 0) || (tt.wantBlocks > 0 && a >= tt.wantBlocks) {
				t.Errorf("Layout(%+v): %d blocks, but %d hold %d available blocks too", tt.opts, l.Blocks, sl.Blocks, a)
			}
		}
	}
}

// TestInodeBoundTreeStaysSmall: a tree of many empty files needs more
// inodes than full-size groups hold per data block, and used to get whole
// groups of free blocks (40,000 empty files: 128 MiB, 120 MiB of it free);
// with groups sized to the inodes its free blocks stay near the headroom,
// and e2fsck accepts the smaller groups.
func TestInodeBoundTreeStaysSmall(t *testing.T) {
	for _, tt := range []struct {
		opts  Options
		files int
	}{
		{Options{Time: testTime}, 40000},
		{Options{Time: testTime, BlockSize: 1024}, 20000},
		{Options{Time: testTime, HeadroomBlocks: -1, HeadroomInodes: -1, NoJournal: true}, 70000},
		{Options{Time: testTime, MetadataCsum: true}, 40000},
	} {
		w := NewWriter(tt.opts)
		if err := w.Add(Entry{Path: "d", Mode: fs.ModeDir | 0o755, ModTime: testTime}); err != nil {
			t.Fatal(err)
		}
		for i := range tt.files {
			if err := w.Add(Entry{Path: fmt.Sprintf("d/%06d", i), Mode: 0o644, ModTime: testTime}); err != nil {
				t.Fatal(err)
			}
		}
		l, err := w.planned()
		if err != nil {
			t.Fatal(err)
		}
		head := int64(DefaultHeadroomBytes / l.BlockSize)
		if tt.opts.HeadroomBlocks < 0 {
			head = 0
		}
		// Allowed: the headroom, the kernel's reserve and rounding of at
		// most a few hundred blocks per group.
		if limit := head + 4096 + 300*int64(l.Groups); l.FreeBlocks > limit {
			t.Errorf("Layout(%d empty files, %+v): %d free blocks in %d groups of %d, want at most %d", tt.files, tt.opts, l.FreeBlocks, l.Groups, l.bpg, limit)
		}
		if l.AvailableBlocks < head {
			t.Errorf("Layout(%d empty files, %+v): %d blocks available, want at least %d", tt.files, tt.opts, l.AvailableBlocks, head)
		}
		fsck(t, writeImage(t, w))
	}
}

// TestResize2fs: offline resize2fs grows a default image to four times its
// size after e2fsck -f, and resize2fs -M cannot shrink it by more than the
// headroom.
func TestResize2fs(t *testing.T) {
	resize2fs := testenv.Tool(t, "resize2fs")
	for _, opts := range []Options{{Time: testTime}, {Time: testTime, BlockSize: 1024}} {
		t.Run(fmt.Sprintf("bs%d", opts.BlockSize), func(t *testing.T) {
			w := NewWriter(opts)
			tinyTree(t, w, 400)
			l, err := w.planned()
			if err != nil {
				t.Fatal(err)
			}
			img := writeImage(t, w)
			fsck(t, img)

			shrunk := img + ".min"
			if out, err := exec.Command("cp", "--sparse=always", img, shrunk).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v\n%s", err, out)
			}
			if out, err := exec.Command(resize2fs, "-M", shrunk).CombinedOutput(); err != nil {
				t.Fatalf("resize2fs -M: %v\n%s", err, out)
			}
			st, err := os.Stat(shrunk)
			if err != nil {
				t.Fatal(err)
			}
			headroom := int64(DefaultHeadroomBytes) + kernelReserve(l.Blocks)*int64(l.BlockSize)
			if saved := l.Size() - st.Size(); saved > headroom {
				t.Errorf("resize2fs -M shrank the image by %d bytes, more than the headroom of %d", saved, headroom)
			}

			blocks := l.Blocks * 4
			if out, err := exec.Command(resize2fs, img, strconv.FormatInt(blocks, 10)).CombinedOutput(); err != nil {
				t.Fatalf("resize2fs %s %d: %v\n%s", img, blocks, err, out)
			}
			if st, err := os.Stat(img); err != nil || st.Size() != 4*l.Size() {
				t.Fatalf("after resize2fs: size %v, %v; want %d", st.Size(), err, 4*l.Size())
			}
			fsck(t, img)
		})
	}
}

// TestInodeTablesAroundBackups: with many inodes the inode tables (kept
// contiguous per group) run into the superblock copies of backup groups
// and must step over them, leaving free gaps.
func TestInodeTablesAroundBackups(t *testing.T) {
	for _, o := range []Options{
		{BlockSize: 1024, HeadroomInodes: 100000, Time: testTime},
		{HeadroomInodes: 600000, Time: testTime},
	} {
		w := NewWriter(o)
		tinyTree(t, w, 100)
		l, err := w.planned()
		if err != nil {
			t.Fatal(err)
		}
		if len(l.gaps) == 0 {
			t.Errorf("Layout(%+v): inode tables (%d per group, %d groups) left no gap before a backup", o, l.InodesPerGroup, l.Groups)
		}
		fsck(t, writeImage(t, w))
	}
}

func TestExplicitSizeRuntGroup(t *testing.T) {
	const g = 32768 * 4096 // one 4 KiB-block group
	for _, tt := range []struct {
		size, want int64
	}{
		{2*g + 4096, 2*g + 4096}, // group 2 holds no backup: one block is fine
		{g + 4096, g},            // group 1 needs superblock + GDT + 1: dropped
		{g + 8192, g},
		{g + 12288, g + 12288},
	} {
		w := NewWriter(Options{Time: testTime, Size: tt.size})
		tinyTree(t, w, 10)
		l, err := w.planned()
		if err != nil {
			t.Errorf("Layout(Size %d): %v", tt.size, err)
			continue
		}
		if l.Size() != tt.want {
			t.Errorf("Layout(Size %d).Size() = %d, want %d", tt.size, l.Size(), tt.want)
		}
		fsck(t, writeImage(t, w))
	}
}

// TestGrowthReserve: every image has descriptor blocks and reserved GDT
// blocks for GrowthFactor times its groups, the resize inode owns them
// (e2fsck checks it), and resize2fs grows a 1 KiB image that far.
func TestGrowthReserve(t *testing.T) {
	resize2fs := testenv.Tool(t, "resize2fs")
	for _, c := range []struct {
		opts    Options
		entries int
		rsv     bool // the image has a reserve
	}{
		{Options{Time: testTime}, 100, false}, // one 4 KiB group: one descriptor block covers 64
		{Options{Time: testTime, Size: 1 << 30}, 100, true},
		{Options{Time: testTime, BlockSize: 1024}, 100, true},
		{Options{Time: testTime, BlockSize: 1024, MetadataCsum: true, NoJournal: true}, 100, true},
		{Options{Time: testTime, BlockSize: 1024, Size: 200 << 20}, 3000, true},
	} {
		t.Run(fmt.Sprintf("bs%d-size%d", c.opts.BlockSize, c.opts.Size), func(t *testing.T) {
			w := NewWriter(c.opts)
			tinyTree(t, w, c.entries)
			l, err := w.planned()
			if err != nil {
				t.Fatal(err)
			}
			grown := (l.Blocks*GrowthFactor - int64(l.fdb) + int64(l.bpg) - 1) / int64(l.bpg)
			perBlock := int64(l.BlockSize / ext4format.GroupDescSize)
			if have := int64(l.gdtBlocks+l.rsvGDT) * perBlock; have < grown {
				t.Errorf("%d descriptor and %d reserved blocks hold %d groups, want %d (%d×)", l.gdtBlocks, l.rsvGDT, have, grown, GrowthFactor)
			}
			if got := l.rsvGDT > 0; got != c.rsv {
				t.Errorf("reserve %d blocks, want one: %v", l.rsvGDT, c.rsv)
			}
			img := writeImage(t, w)
			fsck(t, img)
			if !c.rsv || c.opts.BlockSize != 1024 {
				return
			}
			blocks := l.Blocks * GrowthFactor
			if err := os.Truncate(img, blocks*int64(l.BlockSize)); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(resize2fs, img).CombinedOutput()
			if err != nil {
				t.Fatalf("resize2fs %s: %v\n%s", img, err, out)
			}
			fsck(t, img)
		})
	}
}
