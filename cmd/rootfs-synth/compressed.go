package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
)

// A build's -o x.ext4.zst or x.ext4.xz writes a compressed image, so the
// commands that read images (ls, cat) read those too: they decompress it
// into a sparse temporary file in os.TempDir() ($TMPDIR), blocks of zeros
// left as holes, which is removed when the command ends (at once, where
// an open file can be unlinked). ext4fs reads at random offsets, which a
// compressed stream cannot serve.

// maxDecompressedImage bounds what a compressed image may unpack to: far
// beyond any root filesystem, and mostly holes in an image, but a stream
// of a few MB must not fill the disk.
const maxDecompressedImage = 1 << 40

// compression formats, by their magic numbers at offset 0.
var compressionMagic = []struct {
	name  string
	magic []byte
}{
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}},
}

// compressionOf names the compression f starts with, or "".
func compressionOf(f io.ReaderAt) string {
	head := make([]byte, 6)
	n, _ := f.ReadAt(head, 0)
	for _, c := range compressionMagic {
		if bytes.HasPrefix(head[:n], c.magic) {
			return c.name
		}
	}
	return ""
}

// decompressImage decompresses f, compressed with format, into a sparse
// temporary file and returns it with its size; the caller closes it with
// the function returned, which removes it.
func decompressImage(f *os.File, format string) (*os.File, int64, func(), error) {
	var dec io.Reader
	switch format {
	case "zstd":
		d, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, 0, nil, err
		}
		defer d.Close()
		dec = d
	case "xz":
		d, err := xz.NewReader(f)
		if err != nil {
			return nil, 0, nil, err
		}
		dec = d
	default:
		return nil, 0, nil, fmt.Errorf("unknown compression %q", format)
	}
	tmp, err := os.CreateTemp("", "rootfs-synth-image-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("making a temporary file to decompress into (set TMPDIR): %w", err)
	}
	// Unlinked at once where the system allows, so that nothing is left
	// even if the process is killed; removed on close elsewhere.
	unlinked := os.Remove(tmp.Name()) == nil
	closeTmp := func() {
		tmp.Close()
		if !unlinked {
			os.Remove(tmp.Name())
		}
	}
	size, err := copySparse(tmp, io.LimitReader(dec, maxDecompressedImage+1))
	if err == nil && size > maxDecompressedImage {
		err = fmt.Errorf("decompresses to more than %d GiB", maxDecompressedImage>>30)
	}
	if err != nil {
		closeTmp()
		return nil, 0, nil, fmt.Errorf("decompressing (%s): %w", format, err)
	}
	return tmp, size, closeTmp, nil
}

// copySparse copies r into the empty file f, leaving each 4 KiB block of
// zeros as a hole, and returns the bytes copied.
func copySparse(f *os.File, r io.Reader) (int64, error) {
	const block = 4096
	buf := make([]byte, 64*block)
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		for i := 0; i < n; i += block {
			b := buf[i:min(i+block, n)]
			if !bytes.Equal(b, zeroBlock[:len(b)]) {
				if _, werr := f.WriteAt(b, off+int64(i)); werr != nil {
					return 0, werr
				}
			}
		}
		off += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return off, f.Truncate(off)
		}
		if err != nil {
			return 0, err
		}
	}
}

var zeroBlock [4096]byte

// openCompressedImage is openImage's for a compressed image file f.
func openCompressedImage(image string, f *os.File, format string) (*ext4fs.FS, func(), error) {
	raw, size, closeRaw, err := decompressImage(f, format)
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", image, err)
	}
	fsys, err := ext4fs.Open(raw, size)
	if err != nil {
		closeRaw()
		return nil, nil, fmt.Errorf("reading %s (%s-compressed): %w", image, format, err)
	}
	return fsys, closeRaw, nil
}
