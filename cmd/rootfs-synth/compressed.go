package main

import (
	"context"
	"fmt"
	"os"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// openCompressedImage is openImage's for an image file f compressed with
// format (a build's -o x.ext4.zst or .xz): it is decompressed into a
// sparse temporary file (imagefile.Decompress), removed when the
// function returned is called.
func openCompressedImage(ctx context.Context, image string, f *os.File, format string) (*ext4fs.FS, func(), error) {
	raw, size, closeRaw, err := imagefile.Decompress(ctx, f, format)
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
