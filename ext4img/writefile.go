package ext4img

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile is WriteFileContext without a way to stop it.
func (w *Writer) WriteFile(name string, perm fs.FileMode) error {
	return w.WriteFileContext(context.Background(), name, perm)
}

// WriteFileContext writes the image to a temporary file next to name,
// syncs it and renames it to name with permissions perm. On any error,
// and when ctx is done before the rename, neither name nor the temporary
// file is left behind (an existing name is not touched); the error then
// wraps context.Cause(ctx). Cancellation is seen at the next write or seek
// of the image, at most a megabyte apart.
//
// name must be a regular file or not exist: an existing device node,
// directory, FIFO, socket or symbolic link is refused, never replaced
// (writing into a block device in place would need the holes zeroed and
// could not be undone halfway; a symlink's target is for the caller to
// name).
func (w *Writer) WriteFileContext(ctx context.Context, name string, perm fs.FileMode) (err error) {
	if _, err := w.Layout(); err != nil {
		return err
	}
	wrap := func(err error) error {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return fmt.Errorf("writing image %s: %w", name, err)
	}
	if err := CheckOutput(name); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return wrap(ctx.Err())
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return wrap(err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := w.writeTo(&ctxWriteSeeker{ctx: ctx, ws: f}); err != nil {
		return wrap(err)
	}
	if err := f.Chmod(perm); err != nil {
		return wrap(err)
	}
	if err := f.Sync(); err != nil {
		return wrap(err)
	}
	if err := f.Close(); err != nil {
		return wrap(err)
	}
	// Again: name may have become a symlink or a device meanwhile.
	if err := CheckOutput(name); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return wrap(ctx.Err())
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return wrap(err)
	}
	return nil
}

// CheckOutput returns an error when WriteFileContext would refuse name:
// it exists and is not a regular file. Callers check early with it, before
// spending the time to read a tree.
func CheckOutput(name string) error {
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("writing image %s: %w", name, err)
	}
	var what string
	switch m := fi.Mode(); {
	case m.IsRegular():
		return nil
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link (name its target to replace that)"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device (write an image file, then copy it with dd)"
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	default:
		what = "a special file"
	}
	return fmt.Errorf("writing image %s: refusing to replace %s", name, what)
}

// ctxWriteSeeker fails every call once ctx is done.
type ctxWriteSeeker struct {
	ctx context.Context
	ws  io.WriteSeeker
}

func (c *ctxWriteSeeker) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.ws.Write(b)
}

func (c *ctxWriteSeeker) Seek(off int64, whence int) (int64, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.ws.Seek(off, whence)
}
