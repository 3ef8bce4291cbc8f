package oci

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
			w := newSparseWriter(f)
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
