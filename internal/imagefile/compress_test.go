package imagefile

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestCompressionOf(t *testing.T) {
	for name, want := range map[string]compression{
		"a.ext4": noCompression, "a.ext4.zst": zstdCompression, "A.EXT4.ZST": zstdCompression,
		"a.xz": xzCompression, "a.Xz": xzCompression, "zst": noCompression,
	} {
		if got := compressionOf(name); got != want {
			t.Errorf("compressionOf(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestNewZstdWriterSameBytes: the .zst encoder's output does not depend
// on its concurrency (so on the machine), which push relies on to give a
// build's .zst and a raw image compressed elsewhere the same digest.
func TestNewZstdWriterSameBytes(t *testing.T) {
	in := make([]byte, 24<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(in); i += 64 << 10 {
		if r.IntN(2) == 0 { // half random, half zero: like an image
			for j := i; j < i+64<<10; j++ {
				in[j] = byte(r.Uint32())
			}
		}
	}
	encode := func(enc *zstd.Encoder, out *bytes.Buffer) []byte {
		if _, err := enc.Write(in); err != nil {
			t.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	var ownOut bytes.Buffer
	own, err := NewZstdWriter(&ownOut)
	if err != nil {
		t.Fatal(err)
	}
	want := encode(own, &ownOut)
	for _, c := range []int{1, 3, 8} {
		var out bytes.Buffer
		enc, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(c))
		if err != nil {
			t.Fatal(err)
		}
		if got := encode(enc, &out); !bytes.Equal(got, want) {
			t.Errorf("zstd at concurrency %d = %d bytes, want NewZstdWriter's %d, byte for byte", c, len(got), len(want))
		}
	}
}
