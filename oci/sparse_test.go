package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
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
			w := newSparseWriter(f, filepath.Dir(f.Name()))
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
	w := newSparseWriter(f, filepath.Dir(path))
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
	if alloc := imagefile.AllocatedBytes(st); st.Size() != 64<<20+holeBlock || alloc > 1<<20 && runtime.GOOS != "windows" {
		t.Errorf("64 MiB of zeros and a block of data: %d bytes, %d on disk; want holes", st.Size(), alloc)
	}
}

// TestSingleZstdFrame: what imagefile's encoder writes is one frame;
// two frames, a skippable frame after it, a cut-off frame, trailing
// bytes and a file that is no zstd at all are not.
func TestSingleZstdFrame(t *testing.T) {
	in := bytes.Repeat([]byte("rootfs-synth "), 100000)
	var own bytes.Buffer
	enc, err := imagefile.NewZstdWriter(&own)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(in)
	enc.Close()
	plain, _ := zstd.NewWriter(nil)
	two := plain.EncodeAll(in[:1000], nil)
	two = plain.EncodeAll(in[1000:], two)
	skippable := append(bytes.Clone(own.Bytes()), 0x50, 0x2a, 0x4d, 0x18, 1, 0, 0, 0, 9)
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"imagefile's encoder", own.Bytes(), true},
		{"EncodeAll, one frame", plain.EncodeAll(in, nil), true},
		{"two frames", two, false},
		{"a skippable frame after", skippable, false},
		{"cut off", own.Bytes()[:own.Len()-5], false},
		{"a byte after", append(bytes.Clone(own.Bytes()), 0), false},
		{"not zstd", in, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		got, err := singleZstdFrame(bytes.NewReader(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("singleZstdFrame(%s) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

// TestSparseWriterBudget: data past the budget is a BudgetError, zeros
// cost nothing; the control: the same stream within the budget is written.
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
		w := newSparseWriter(f, filepath.Dir(f.Name()))
		w.budget = tt.budget
		_, err = w.Write(stream)
		if err == nil {
			err = w.Close()
		}
		f.Close()
		var be *imagefile.BudgetError
		if tt.ok != (err == nil) || !tt.ok && !errors.As(err, &be) {
			t.Errorf("%d bytes of data and 64 zero blocks with a budget of %d: %v; want ok %v, else a BudgetError", 4*holeBlock, tt.budget, err, tt.ok)
		}
	}
}

// TestUnpackLayerStopsAtItsSize: a registry that sends more than the
// layer's size (without end) is cut one byte past it, and the blob is
// refused as not matching its digest.
func TestUnpackLayerStopsAtItsSize(t *testing.T) {
	raw := bytes.Repeat([]byte{3}, 3*holeBlock)
	var blob bytes.Buffer
	enc, err := zstd.NewWriter(&blob)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(raw)
	enc.Close()
	blobHash, _, _ := v1.SHA256(bytes.NewReader(blob.Bytes()))
	rawHash, _, _ := v1.SHA256(bytes.NewReader(raw))
	ld := v1.Descriptor{Digest: blobHash, Size: int64(blob.Len())}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	endless := io.MultiReader(bytes.NewReader(blob.Bytes()), zeroReader{})
	err = unpackLayer(context.Background(), endless, ld, f, filepath.Dir(f.Name()), int64(len(raw)), rawHash)
	if err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("unpackLayer of a blob followed by endless bytes = %v, want a digest mismatch", err)
	}
	// The control: the blob alone unpacks.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := unpackLayer(context.Background(), bytes.NewReader(blob.Bytes()), ld, f, filepath.Dir(f.Name()), int64(len(raw)), rawHash); err != nil {
		t.Errorf("unpackLayer of the blob alone = %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
