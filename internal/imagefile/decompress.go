package imagefile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// The readers of images (ls, cat, inspect, diff) take the build's .zst and
// .xz outputs too: they recognise the compression by its magic number and
// decompress into a sparse temporary file in os.TempDir() ($TMPDIR),
// blocks of zeros left as holes. ext4 is read at random offsets, which a
// compressed stream cannot serve.

// MaxDecompressed bounds what a compressed image may unpack to: far beyond
// any root filesystem, and mostly holes in an image, but a stream of a
// few MB must not fill the disk.
const MaxDecompressed = 1 << 40

// compression formats, by their magic numbers at offset 0.
var compressionMagic = []struct {
	name  string
	magic []byte
}{
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}},
}

// SniffCompression names the compression r starts with ("zstd", "xz"),
// or "".
func SniffCompression(r io.ReaderAt) string {
	head := make([]byte, 6)
	n, _ := r.ReadAt(head, 0)
	for _, c := range compressionMagic {
		if bytes.HasPrefix(head[:n], c.magic) {
			return c.name
		}
	}
	return ""
}

// Decompress decompresses r, compressed with format (as SniffCompression
// names it), into a sparse temporary file, and returns it with its size
// and the function that closes and removes it. The file is unlinked at
// once where the system allows, so that nothing is left even if the
// process is killed. It stops once ctx is done. More than
// MaxDecompressed bytes, or more data than the DiskBudget of os.TempDir()
// (zeros are holes and do not count: a SparseWriter), is an error.
func Decompress(ctx context.Context, r io.Reader, format string) (*os.File, int64, func(), error) {
	var dec io.Reader
	switch format {
	case "zstd":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, 0, nil, err
		}
		defer d.Close()
		dec = d
	case "xz":
		d, err := xz.NewReader(r)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("decompressing (xz): %w", err)
		}
		dec = d
	default:
		return nil, 0, nil, fmt.Errorf("unknown compression %q", format)
	}
	tmp, err := os.CreateTemp("", "rootfs-synth-image-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("making a temporary file to decompress into (set TMPDIR): %w", err)
	}
	unlinked := os.Remove(tmp.Name()) == nil
	closeTmp := func() {
		tmp.Close()
		if !unlinked {
			os.Remove(tmp.Name())
		}
	}
	w := NewSparseWriter(tmp, filepath.Dir(tmp.Name()))
	_, err = io.Copy(w, ContextReader(ctx, io.LimitReader(dec, MaxDecompressed+1)))
	if err == nil {
		err = w.Close()
	}
	size := w.Size()
	if err == nil && size > MaxDecompressed {
		err = fmt.Errorf("decompresses to more than %d GiB", MaxDecompressed>>30)
	}
	if err != nil {
		closeTmp()
		return nil, 0, nil, fmt.Errorf("decompressing (%s): %w", format, err)
	}
	return tmp, size, closeTmp, nil
}
