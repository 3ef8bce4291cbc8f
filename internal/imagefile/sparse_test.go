package imagefile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestSparseWriter: whatever the mix of zero and data blocks, whole or
// partial, and however the stream is cut into writes, the file reads back
// as the stream and is exactly as long.
func TestSparseWriter(t *testing.T) {
	data := bytes.Repeat([]byte{7}, holeBlock)
	zero := make([]byte, holeBlock)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := map[string][]byte{
		"empty":                 nil,
		"one zero block":        zero,
		"data":                  data,
		"hole then data":        cat(zero, zero, data),
		"data then hole":        cat(data, zero, zero),
		"partial data tail":     cat(zero, data[:100]),
		"partial zero tail":     cat(data, zero[:100]),
		"short zero":            zero[:10],
		"data, hole, data tail": cat(data, zero, zero, data, data[:1]),
	}
	for name, in := range tests {
		for _, chunk := range []int{1, 1000, holeBlock, 3 * holeBlock} {
			path := filepath.Join(t.TempDir(), "out")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := NewSparseWriter(f, filepath.Dir(f.Name()))
			for b := in; len(b) > 0; {
				n := min(chunk, len(b))
				if _, err := w.Write(b[:n]); err != nil {
					t.Fatal(err)
				}
				b = b[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, in) || w.Size() != int64(len(in)) {
				t.Errorf("sparse(%s, writes of %d) = %d bytes (size %d), want the %d bytes written", name, chunk, len(got), w.Size(), len(in))
			}
		}
	}

	// The holes are holes: 64 MiB of zeros around one data block take
	// a few blocks of disk (where the filesystem can tell).
	path := filepath.Join(t.TempDir(), "holes")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := NewSparseWriter(f, filepath.Dir(path))
	for _, b := range [][]byte{make([]byte, 32<<20), data, make([]byte, 32<<20)} {
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if alloc := AllocatedBytes(st); st.Size() != 64<<20+holeBlock || alloc > 1<<20 && runtime.GOOS != "windows" {
		t.Errorf("64 MiB of zeros and a block of data: %d bytes, %d on disk; want holes", st.Size(), alloc)
	}
}

// TestSparseWriterBudget: data past the budget is a BudgetError, zeros
// cost nothing; the control: the same stream within the budget is written
// whole.
func TestSparseWriterBudget(t *testing.T) {
	stream := append(make([]byte, 64*holeBlock), bytes.Repeat([]byte{1}, 4*holeBlock)...)
	for _, tt := range []struct {
		budget int64
		ok     bool
	}{{4 * holeBlock, true}, {4*holeBlock - 1, false}} {
		f, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		w := NewSparseWriter(f, filepath.Dir(f.Name()))
		w.budget = tt.budget
		_, err = w.Write(stream)
		if err == nil {
			err = w.Close()
		}
		f.Close()
		var be *BudgetError
		if tt.ok != (err == nil) || tt.ok && w.Size() != int64(len(stream)) || !tt.ok && !errors.As(err, &be) {
			t.Errorf("%d bytes of data and 64 zero blocks with a budget of %d: %v; want ok %v, else a BudgetError", 4*holeBlock, tt.budget, err, tt.ok)
		}
	}
}
