package ext4img

import (
	"context"
	"io/fs"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// WriteFile writes the image to the file name with permissions perm the
// way the build and mkfs do (see internal/imagefile): into a temporary
// file beside name, compressed when name ends in .zst or .xz, synced and
// renamed over name. On any error neither name nor the temporary file is
// touched or left behind. name must be a regular file or not exist: an
// existing device node, directory, FIFO, socket or symbolic link is
// refused, never replaced.
func (w *Writer) WriteFile(name string, perm fs.FileMode) error {
	return imagefile.Write(context.Background(), name, imagefile.Options{Perm: perm}, w.Write)
}
