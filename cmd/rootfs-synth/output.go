package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
)

// compression is how an output name asks for its image to be compressed.
type compression int

const (
	noCompression compression = iota
	zstdCompression
	xzCompression
)

func compressionOf(name string) compression {
	name = strings.ToLower(name)
	switch {
	case strings.HasSuffix(name, ".zst"):
		return zstdCompression
	case strings.HasSuffix(name, ".xz"):
		return xzCompression
	}
	return noCompression
}

// writeImageFile writes the image of w to target: into a temporary file
// beside it, renamed over target only when complete and synced. A .zst or
// .xz target gets the raw image in a second, sparse temporary file first,
// which is then compressed into the first: the image never sits in memory.
// On any error or cancellation both temporary files are removed and target
// is left as it was.
func writeImageFile(ctx context.Context, w *ext4img.Writer, target string, u *ui) (*ImageReport, error) {
	staged, err := stageImageFile(ctx, w, target, u)
	if err != nil {
		return nil, err
	}
	defer staged.discard()
	if err := staged.commit(ctx); err != nil {
		return nil, err
	}
	return staged.image, nil
}

// stagedImage is a complete, synced image in a temporary file beside its
// target, not yet renamed over it: the build puts its report in place
// first, so that a report that cannot be written leaves the old image.
type stagedImage struct {
	tmp, target string
	image       *ImageReport
}

// stageImageFile is writeImageFile up to the rename. The caller commits
// or discards the result.
func stageImageFile(ctx context.Context, w *ext4img.Writer, target string, u *ui) (staged *stagedImage, err error) {
	layout, err := w.Layout()
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Dir(target), filepath.Base(target)
	out, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	comp := compressionOf(target)
	raw := out
	if comp != noCompression {
		if raw, err = os.CreateTemp(dir, "."+base+".raw-*"); err != nil {
			return nil, err
		}
		defer func() {
			raw.Close()
			os.Remove(raw.Name())
		}()
	}
	size := layout.Size()
	progress := u.byteBar("image", size)
	if _, err := w.WriteTo(&ctxFile{ctx: ctx, f: raw, progress: progress}); err != nil {
		return nil, err
	}
	if comp != noCompression {
		if err := compressInto(ctx, out, raw, comp, size, u); err != nil {
			return nil, fmt.Errorf("compressing: %w", err)
		}
	}
	if err := out.Chmod(0o644); err != nil {
		return nil, err
	}
	if err := out.Sync(); err != nil {
		return nil, err
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	st, err := os.Stat(out.Name())
	if err != nil {
		return nil, err
	}
	return &stagedImage{tmp: out.Name(), target: target,
		image: &ImageReport{Path: target, Size: size, AllocatedBytes: allocatedBytes(st)}}, nil
}

// commit renames the staged image over its target, unless ctx is done.
func (s *stagedImage) commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	// Again just before the rename: a symlink, device or directory put
	// there during the build is refused, never replaced.
	if err := ext4img.CheckOutput(s.target); err != nil {
		return err
	}
	if err := os.Rename(s.tmp, s.target); err != nil {
		return err
	}
	syncDir(filepath.Dir(s.target))
	return nil
}

// discard removes the temporary file of an image not committed (and
// does nothing after a commit).
func (s *stagedImage) discard() { os.Remove(s.tmp) }

// checkOutputFile refuses to replace name (what the --report flag or the
// like names) unless it is a regular file or absent: a directory, device,
// FIFO, socket or symlink is never replaced, as for the image.
func checkOutputFile(flag, name string) error {
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if m := fi.Mode(); !m.IsRegular() {
		return fmt.Errorf("%s %q: refusing to replace %s", flag, name, fileKind(m))
	}
	return nil
}

// probeWritable proves that a file can be created in dir, for target:
// an unwritable output fails before the build, not after it.
func probeWritable(dir, target string) error {
	probe, err := os.CreateTemp(dir, "."+filepath.Base(target)+".probe-*")
	if err != nil {
		return errors.Unwrap(err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// compressInto compresses the raw image into out.
func compressInto(ctx context.Context, out, raw *os.File, comp compression, size int64, u *ui) error {
	if _, err := raw.Seek(0, io.SeekStart); err != nil {
		return err
	}
	var enc io.WriteCloser
	var err error
	switch comp {
	case zstdCompression:
		enc, err = zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	case xzCompression:
		enc, err = xz.NewWriter(out)
	}
	if err != nil {
		return err
	}
	progress := u.byteBar("compress", size)
	src := &ctxFile{ctx: ctx, f: raw, progress: progress}
	if _, err := io.Copy(enc, src); err != nil {
		enc.Close()
		return err
	}
	return enc.Close()
}

// ctxFile is a file whose reads and writes fail once ctx is canceled, so
// that an interrupt stops the image writer (and the compressor) at the
// next buffer, and which reports how far it got.
type ctxFile struct {
	ctx      context.Context
	f        *os.File
	progress func(done int64)
	at, max  int64
}

func (c *ctxFile) advance(n int) {
	c.at += int64(n)
	if c.at > c.max {
		c.max = c.at
		c.progress(c.max)
	}
}

func (c *ctxFile) Write(b []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	n, err := c.f.Write(b)
	c.advance(n)
	return n, err
}

func (c *ctxFile) Read(b []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	n, err := c.f.Read(b)
	c.advance(n)
	return n, err
}

func (c *ctxFile) Seek(off int64, whence int) (int64, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	at, err := c.f.Seek(off, whence)
	if err == nil {
		c.at = at
	}
	return at, err
}

// syncDir makes a rename in dir durable (best effort: not every system
// can fsync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
