package oci

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

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

// TestUnpackLayerStopsAtItsSize: a registry that sends more than the
// layer's size (without end) is cut one byte past it, and the blob is
// refused as not matching its digest.
func TestUnpackLayerStopsAtItsSize(t *testing.T) {
	raw := bytes.Repeat([]byte{3}, 3*4096)
	blob := bytes.NewBuffer(zstdBlob(t, raw))
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

// zstdBlob is raw compressed as the layers push makes.
func zstdBlob(t *testing.T, raw []byte) []byte {
	t.Helper()
	var blob bytes.Buffer
	enc, err := imagefile.NewZstdWriter(&blob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return blob.Bytes()
}
