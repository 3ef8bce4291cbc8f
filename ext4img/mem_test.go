package ext4img

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// addGenTree adds n generated entries to w, like a root filesystem in
// shape: directories of 50 entries two levels deep, in them regular files
// of 1 byte to 4 KiB and every tenth a symlink. Names are built as Add is
// called, so the caller holds nothing per entry, and the files have no
// Content: w's Options.Files must be genFS, which makes it from the name,
// as a walk of a host directory adds its files.
func addGenTree(tb testing.TB, w *Writer, n int) {
	tb.Helper()
	const perDir = 50
	mt := time.Unix(1700000000, 0)
	add := func(e Entry) {
		if err := w.Add(e); err != nil {
			tb.Fatal(err)
		}
	}
	var top, dir string
	for i := 0; i < n; i++ {
		switch {
		case i%(perDir*perDir) == 0:
			top = fmt.Sprintf("top%04d", i/(perDir*perDir))
			add(Entry{Path: top, Mode: fs.ModeDir | 0o755, ModTime: mt})
		case i%perDir == 0:
			dir = fmt.Sprintf("%s/dir%04d", top, i/perDir%perDir)
			add(Entry{Path: dir, Mode: fs.ModeDir | 0o755, ModTime: mt})
		case dir == "":
			add(Entry{Path: fmt.Sprintf("%s/f%d", top, i), Mode: 0o644, ModTime: mt})
		case i%10 == 0:
			add(Entry{Path: dir + "/link-" + strconv.Itoa(i), Mode: fs.ModeSymlink | 0o777, Linkname: "../../usr/lib/libfoo.so.1", ModTime: mt})
		default:
			add(Entry{Path: dir + "/file-" + strconv.Itoa(i) + ".so", Mode: 0o644, ModTime: mt, Size: genSize(i)})
		}
		if i%(perDir*perDir) == perDir*perDir-1 {
			dir = ""
		}
	}
}

// genSize is the size of addGenTree's file i.
func genSize(i int) int64 { return int64(i*7919%4096 + 1) }

// genFS opens addGenTree's files: ".../file-I.so" is genSize(I) bytes
// from genReader seeded with I.
type genFS struct{}

func (genFS) Open(name string) (fs.File, error) {
	num, ok := strings.CutPrefix(path.Base(name), "file-")
	i, err := strconv.Atoi(strings.TrimSuffix(num, ".so"))
	if !ok || err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &genFile{genReader{n: genSize(i), seed: byte(i)}, genSize(i)}, nil
}

type genFile struct {
	genReader
	size int64
}

func (f *genFile) Stat() (fs.FileInfo, error) { return genInfo(f.size), nil }
func (f *genFile) Close() error               { return nil }

// genInfo is the FileInfo of a regular file of that many bytes.
type genInfo int64

func (i genInfo) Name() string       { return "file" }
func (i genInfo) Size() int64        { return int64(i) }
func (i genInfo) Mode() fs.FileMode  { return 0o644 }
func (i genInfo) ModTime() time.Time { return time.Time{} }
func (i genInfo) IsDir() bool        { return false }
func (i genInfo) Sys() any           { return nil }

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// resetPeakRSS resets VmHWM (Linux: clear_refs 5) and peakRSS reads it;
// both report false where that is not available.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

func peakRSS() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// TestMemoryPerEntry: a laid-out Writer of 100,000 generated entries
// (files through Options.Files) holds at most 150 bytes per entry. Before
// compact nodes, no path map and plans in one slice it held 486; before
// Options.Files, 48-byte nodes and 16-byte plans, 176 with a Content
// closure per file.
func TestMemoryPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-entry tree")
	}
	const n, limit = 100000, 150
	base := heapInUse()
	w := NewWriter(Options{Files: genFS{}})
	addGenTree(t, w, n)
	if _, err := w.Layout(); err != nil {
		t.Fatal(err)
	}
	if got := float64(heapInUse()-base) / n; got > limit {
		t.Errorf("Layout of %d entries holds %.0f bytes per entry, want at most %d", n, got, limit)
	}
	runtime.KeepAlive(w)
}

// BenchmarkMemory reports what the Writer holds per entry: tree-B/entry
// after Add, layout-B/entry after Layout (both live heap), and the peak
// RSS of the whole run (Add, Layout, Write into a discarding writer).
// Run one size at a time, once: go test ./ext4img -run '^$' -bench
// 'Memory/entries=1000000' -benchtime 1x.
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{100000, 1000000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			for b.Loop() {
				runtime.GC()
				base := heapInUse()
				hwm := resetPeakRSS()
				w := NewWriter(Options{Files: genFS{}})
				addGenTree(b, w, n)
				tree := heapInUse()
				if _, err := w.Layout(); err != nil {
					b.Fatal(err)
				}
				layout := heapInUse()
				if err := w.Write(&discard{}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(tree-base)/float64(n), "tree-B/entry")
				b.ReportMetric(float64(layout-base)/float64(n), "layout-B/entry")
				if peak, ok := peakRSS(); ok && hwm {
					b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
				}
				runtime.KeepAlive(w)
			}
		})
	}
}

// TestDirNodeOutOfOrder: names added in random order are all found,
// names not added are not, and sort leaves every name once, in order.
func TestDirNodeOutOfOrder(t *testing.T) {
	const n = 5000
	perm := rand.New(rand.NewPCG(1, 2)).Perm(n)
	d := &dirNode{}
	name := func(i int) string { return fmt.Sprintf("n%05d", i) }
	for k, i := range perm {
		if d.lookup(name(i)) != nil {
			t.Fatalf("lookup(%q) before adding it found a node", name(i))
		}
		d.insert(name(i), &node{ino: uint32(i)})
		if got := d.lookup(name(i)); got == nil || got.ino != uint32(i) {
			t.Fatalf("lookup(%q) right after adding it = %v", name(i), got)
		}
		if j := perm[k/2]; d.lookup(name(j)) == nil {
			t.Fatalf("lookup(%q) after %d more names = nil", name(j), k-k/2)
		}
	}
	d.sort()
	if len(d.children) != n || d.sorted != n || d.tail != nil {
		t.Fatalf("after sort: %d children, %d sorted, tail %v; want %d, %d, nil", len(d.children), d.sorted, d.tail != nil, n, n)
	}
	for i, c := range d.children {
		if c.name != name(i) {
			t.Fatalf("after sort: children[%d] = %q, want %q", i, c.name, name(i))
		}
	}
}
