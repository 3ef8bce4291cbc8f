package imagefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// CloneMethod says how StageClone copied the base image.
type CloneMethod string

const (
	// Reflink: the clone shares the base's blocks until either changes
	// (FICLONE on Linux, on btrfs, XFS with reflink, bcachefs…).
	Reflink CloneMethod = "reflink"
	// SparseCopy: the base's data regions were copied, its holes and
	// blocks of zeros left as holes.
	SparseCopy CloneMethod = "sparse copy"
)

// StageClone stages a copy of the image file base as target's next
// content, the way Stage stages a new image: it checks target (see
// Check), clones base into a temporary file beside target — a reflink
// where the filesystem has one, else a sparse copy — calls change with the
// temporary file's name (a patcher opens it there), then sets opts.Perm
// and syncs it. On any error nothing is left behind and target is as it
// was; Commit renames the clone over target. A compressed target (.zst,
// .xz) is refused: a clone is changed in place, and base must be a
// regular file. opts.Progress is not called.
func StageClone(ctx context.Context, target, base string, opts Options, change func(name string) error) (*Staged, CloneMethod, error) {
	var method CloneMethod
	s, err := stage(ctx, target, opts, func(out *os.File, wrap func(error) error) (int64, error) {
		if compressionOf(target) != noCompression {
			return 0, fmt.Errorf("writing image %s: a clone cannot be compressed (name a raw image)", target)
		}
		src, err := openRegular(base)
		if err != nil {
			return 0, err
		}
		defer src.Close()
		if method, err = cloneFile(ctx, out, src); err != nil {
			return 0, wrap(fmt.Errorf("cloning %s: %w", base, err))
		}
		if ctx.Err() != nil {
			return 0, wrap(ctx.Err())
		}
		if err := change(out.Name()); err != nil {
			return 0, err
		}
		st, err := out.Stat()
		if err != nil {
			return 0, wrap(err)
		}
		return st.Size(), nil
	})
	if err != nil {
		return nil, "", err
	}
	return s, method, nil
}

// openRegular opens base for reading, refusing anything but a regular
// file: checked before the open (a FIFO would block it) and again on what
// was opened.
func openRegular(base string) (*os.File, error) {
	fi, err := os.Stat(base)
	if err != nil {
		return nil, fmt.Errorf("reading base image: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("base image %s: %s, not a regular file", base, unixmode.Kind(fi.Mode()))
	}
	f, err := os.Open(base)
	if err != nil {
		return nil, fmt.Errorf("reading base image: %w", err)
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("base image %s: not a regular file", base)
	}
	return f, nil
}

// cloneFile makes the empty file dst a copy of src: a reflink when the
// filesystem makes one, else a sparse copy.
func cloneFile(ctx context.Context, dst, src *os.File) (CloneMethod, error) {
	if reflink(dst, src) {
		return Reflink, nil
	}
	return SparseCopy, sparseCopy(ctx, dst, src)
}

// sparseCopy copies src's data regions into dst, leaving holes where src
// has holes, then sets dst's size to src's. A region goes through the
// kernel where it can copy one (copy_file_range on Linux), else through
// memory, where blocks of zeros are left as holes too.
func sparseCopy(ctx context.Context, dst, src *os.File) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	ranges, err := dataRanges(src, size)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for _, r := range ranges {
		if done, err := copyRange(ctx, dst, src, r); err != nil {
			return err
		} else if done {
			continue
		}
		if err := copyZeroHoles(ctx, dst, src, r, buf); err != nil {
			return err
		}
	}
	return dst.Truncate(size)
}

// copyZeroHoles copies r from src to dst through buf, leaving blocks of
// zeros as holes.
func copyZeroHoles(ctx context.Context, dst, src *os.File, r dataRange, buf []byte) error {
	const block = 4096
	zero := make([]byte, block)
	for off := r.start; off < r.end; {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		n := int(min(int64(len(buf)), r.end-off))
		if _, err := src.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		for i := 0; i < n; i += block {
			b := buf[i:min(n, i+block)]
			if bytes.Equal(b, zero[:len(b)]) {
				continue
			}
			if _, err := dst.WriteAt(b, off+int64(i)); err != nil {
				return err
			}
		}
		off += int64(n)
	}
	return nil
}

// dataRange is a region [start, end) of a file that may hold data.
type dataRange struct{ start, end int64 }
