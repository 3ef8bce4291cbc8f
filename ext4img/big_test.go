package ext4img

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBigDirectory: 50,000 entries in one directory become a valid htree
// (e2fsck -fy leaves it alone) and every name can be looked up.
func TestBigDirectory(t *testing.T) {
	w := NewWriter(Options{Time: testTime})
	if err := w.Add(Entry{Path: "d", Mode: fs.ModeDir | 0o755, ModTime: testTime}); err != nil {
		t.Fatal(err)
	}
	const n = 50000
	for i := range n {
		if err := w.Add(Entry{Path: fmt.Sprintf("d/file-%06d", i), Mode: 0o644, ModTime: testTime}); err != nil {
			t.Fatal(err)
		}
	}
	img := writeImage(t, w)
	fsck(t, img)
	out := debugfs(t, img, "htree d")
	mustContain(t, "htree d", out, "Indirect levels: 0")
	for _, name := range []string{"file-000000", "file-012345", "file-049999"} {
		mustContain(t, "stat", debugfs(t, img, "stat /d/"+name), "Type: regular")
	}
}

// TestTwoLevelHtree forces a directory past one index block (1 KiB blocks:
// 124 leaves in the root).
func TestTwoLevelHtree(t *testing.T) {
	for _, csum := range []bool{false, true} {
		t.Run(fmt.Sprintf("csum=%v", csum), func(t *testing.T) { testTwoLevelHtree(t, csum) })
	}
}

func testTwoLevelHtree(t *testing.T, csum bool) {
	w := NewWriter(Options{Time: testTime, BlockSize: 1024, NoJournal: true, MetadataCsum: csum})
	if err := w.Add(Entry{Path: "d", Mode: fs.ModeDir | 0o755, ModTime: testTime}); err != nil {
		t.Fatal(err)
	}
	for i := range 8000 {
		if err := w.Add(Entry{Path: fmt.Sprintf("d/%s-%d", strings.Repeat("n", 20), i), Mode: 0o644, ModTime: testTime}); err != nil {
			t.Fatal(err)
		}
	}
	img := writeImage(t, w)
	fsck(t, img)
	mustContain(t, "htree d", debugfs(t, img, "htree d"), "Indirect levels: 1")
	mustContain(t, "stat", debugfs(t, img, "stat /d/"+strings.Repeat("n", 20)+"-7777"), "Type: regular")
}

// patternReader yields size bytes: zeros except an 8-byte marker (the
// offset in MiB) at the start of every 64 MiB, so contents can be
// spot-checked and the image stays sparse.
type patternReader struct{ off, size int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.size-r.off))
	clear(p[:n])
	for i := 0; i < n; {
		o := r.off + int64(i)
		if o%(64<<20) == 0 {
			var m [8]byte
			copy(m[:], fmt.Sprintf("%08x", o>>20))
			i += copy(p[i:n], m[:])
			continue
		}
		i += int(min(int64(n-i), (64<<20)-o%(64<<20)))
	}
	r.off += int64(n)
	return n, nil
}

func patternContent(size int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(&patternReader{size: size}), nil }
}

// blockOf returns the physical block debugfs reports for a logical block.
func blockOf(t *testing.T, img, path string, logical int64) int64 {
	t.Helper()
	out := strings.TrimSpace(debugfs(t, img, fmt.Sprintf("bmap %s %d", path, logical)))
	b, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		t.Fatalf("debugfs bmap %s %d = %q", path, logical, out)
	}
	return b
}

// TestFileOver4GiB: a 5 GiB file needs 40 extents, so an extent index
// block; its content is streamed, never held, and the image stays sparse.
func TestFileOver4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 5 GiB")
	}
	const size = 5<<30 + 12345
	w := NewWriter(Options{Time: testTime, HeadroomBlocks: -1})
	if err := w.Add(Entry{Path: "huge", Mode: 0o644, ModTime: testTime, Size: size, Content: patternContent(size)}); err != nil {
		t.Fatal(err)
	}
	img := writeImage(t, w)
	fsck(t, img)
	mustContain(t, "stat /huge", debugfs(t, img, "stat /huge"), "Size: "+strconv.Itoa(size))
	mustContain(t, "ex /huge", debugfs(t, img, "ex /huge"), " 1/ 1 ") // depth 1
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, mib := range []int64{0, 64, 4032, 4096, 5056, 5120} {
		blk := blockOf(t, img, "/huge", mib<<20/4096)
		got := make([]byte, 8)
		if _, err := f.ReadAt(got, blk*4096); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%08x", mib); string(got) != want {
			t.Errorf("MiB %d of /huge reads %q, want %q", mib, got, want)
		}
	}
	if st, err := f.Stat(); err == nil {
		if used := diskUsage(st); used > 64<<20 {
			t.Errorf("image of a mostly-zero 5 GiB file uses %d bytes on disk, want it sparse", used)
		}
	}
}

// TestDeepExtentTree caps extents at one block so a 1 MiB file on 1 KiB
// blocks needs 1024 extents: 13 leaves under 4 index blocks, depth 2.
func TestDeepExtentTree(t *testing.T) {
	data := randomBytes(1<<20+100, 7)
	w := NewWriter(Options{Time: testTime, BlockSize: 1024, NoJournal: true, MetadataCsum: true})
	w.maxExtent = 1
	if err := w.Add(Entry{Path: "f", Mode: 0o644, ModTime: testTime, Size: int64(len(data)), Content: bytesContent(data)}); err != nil {
		t.Fatal(err)
	}
	img := writeImage(t, w)
	fsck(t, img)
	mustContain(t, "ex /f", debugfs(t, img, "ex /f"), " 2/ 2 ")
	dump := filepath.Join(t.TempDir(), "f")
	debugfs(t, img, "dump /f "+dump)
	got, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("dumped /f differs from what was written")
	}
}
