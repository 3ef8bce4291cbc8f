package ext4img

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// genReader yields n generated, non-zero bytes without holding them.
type genReader struct {
	n    int64
	seed byte
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n == 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), g.n))
	for i := range k {
		p[i] = g.seed + byte(i) | 1
	}
	g.n -= int64(k)
	return k, nil
}

// addBenchTree adds 25,000 files in 500 directories (sizes 0..16 KiB plus a
// few of 1 MiB, about 120 MB in all) and returns the content bytes.
func addBenchTree(b *testing.B, w *Writer) int64 {
	var total int64
	for d := range 500 {
		dir := fmt.Sprintf("usr/lib/d%03d", d)
		if d == 0 {
			for _, p := range []string{"usr", "usr/lib"} {
				if err := w.Add(Entry{Path: p, Mode: fs.ModeDir | 0o755}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := w.Add(Entry{Path: dir, Mode: fs.ModeDir | 0o755}); err != nil {
			b.Fatal(err)
		}
		for f := range 50 {
			i := d*50 + f
			size := int64(i*7919%16384 + 1)
			if i%500 == 0 {
				size = 1 << 20
			}
			total += size
			seed := byte(i)
			err := w.Add(Entry{Path: fmt.Sprintf("%s/file-%05d.so", dir, i), Mode: 0o644, Size: size,
				Content: func() (io.ReadCloser, error) { return io.NopCloser(&genReader{n: size, seed: seed}), nil }})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	return total
}

// discard is an io.WriteSeeker that keeps nothing.
type discard struct{ off int64 }

func (d *discard) Write(p []byte) (int, error) { d.off += int64(len(p)); return len(p), nil }
func (d *discard) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekStart {
		d.off = off
	} else {
		d.off += off
	}
	return d.off, nil
}

// BenchmarkWrite25000Files measures building (Add + Layout) and streaming
// an image of 25,000 generated files; MB/s is of file content.
func BenchmarkWrite25000Files(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		w := NewWriter(Options{})
		b.SetBytes(addBenchTree(b, w))
		if err := w.Write(&discard{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite25000FilesToFile is the same into a real file via WriteFile
// (temporary file, fsync, rename).
func BenchmarkWrite25000FilesToFile(b *testing.B) {
	b.ReportAllocs()
	img := filepath.Join(b.TempDir(), "img")
	for b.Loop() {
		w := NewWriter(Options{})
		b.SetBytes(addBenchTree(b, w))
		if err := w.WriteFile(img, 0o644); err != nil {
			b.Fatal(err)
		}
		os.Remove(img)
	}
}
