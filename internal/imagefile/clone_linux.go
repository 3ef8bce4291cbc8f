package imagefile

import (
	"context"
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// reflink makes dst share src's blocks (FICLONE), when the filesystem
// can: btrfs, XFS with reflink, bcachefs, overlayfs over one of them.
// Anywhere else (ext4, tmpfs, across filesystems) it reports false and
// changes nothing.
func reflink(dst, src *os.File) bool {
	return unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())) == nil
}

// copyRange copies r from src to dst in the kernel (copy_file_range:
// no trip through memory, and a shared extent where the filesystem can
// make one); false when the kernel cannot here (another filesystem, an old
// kernel) and nothing was copied.
func copyRange(ctx context.Context, dst, src *os.File, r dataRange) (bool, error) {
	for off := r.start; off < r.end; {
		if ctx.Err() != nil {
			return true, context.Cause(ctx)
		}
		in, out := off, off
		n, err := unix.CopyFileRange(int(src.Fd()), &in, int(dst.Fd()), &out, int(min(r.end-off, 64<<20)), 0)
		if err != nil || n == 0 {
			if off == r.start && (err == nil || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) ||
				errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)) {
				return false, nil
			}
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return true, err
		}
		off += int64(n)
	}
	return true, nil
}
