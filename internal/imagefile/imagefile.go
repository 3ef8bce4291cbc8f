// Package imagefile puts a disk image in place as a file, the one way every
// writer of an image here does it (the build, mkfs, ext4img's WriteFile,
// and a patcher that clones and patches a base image): Stage writes the
// image into a temporary file beside its target — sparse, seeking over
// holes, and compressed with zstd or xz when the target's name ends in .zst
// or .xz — and syncs it, hashing the raw image (and the compressed file) as
// they are written; Commit renames it over the target and syncs the
// directory; Discard removes what was not committed. A cancelled context
// stops the write at its next read, write or seek, and stops a commit that
// has not renamed yet. Whatever fails, the target is as it was and no
// temporary file is left behind.
//
// The target must be a regular file or not exist: a device node,
// directory, FIFO, socket or symbolic link is refused, never replaced —
// checked before the write and again just before the rename (see Check).
//
// StageClone stages a clone of a base image instead (a reflink where the
// filesystem has one, else a sparse copy), which a patcher changes under
// its temporary name before Commit.
//
// Left out on purpose: writing into a block device in place (the holes
// would need zeroing, and a half-written device cannot be put back: write a
// file and copy it with dd), following a symlinked target (its target is
// for the caller to name), and keeping a compressed image in memory (the
// raw image goes to a second, sparse temporary file first).
package imagefile

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// Options are the choices of Stage and Write. The zero value writes a
// 0644 file and reports no progress.
type Options struct {
	// Perm is the image file's permission bits; 0 means 0644.
	Perm fs.FileMode
	// Progress, when set, is called with the bytes done so far of each
	// step: "image" as the raw image is written, then "compress" as it is
	// read back into the compressor when the target asks for that. Each
	// step is first reported with 0 as it starts. Calls come from the
	// goroutine that called Stage.
	Progress func(step string, done int64)
	// Kind names the file in errors ("writing SBOM x.json: ..."); "" is
	// "image". The same pipeline puts a build's other outputs in place.
	Kind string
}

// Write stages the image write writes (see Stage) and commits it: the
// whole pipeline in one call.
func Write(ctx context.Context, target string, opts Options, write func(io.WriteSeeker) error) error {
	s, err := Stage(ctx, target, opts, write)
	if err != nil {
		return err
	}
	defer s.Discard()
	return s.Commit(ctx)
}

// Staged is a complete, synced image in a temporary file beside its
// target, not yet renamed over it: a build puts its report in place
// between Stage and Commit, so that a report that cannot be written leaves
// the old image.
type Staged struct {
	kind            string
	target, tmp     string
	size, allocated int64
	digest, zdigest string
	committed       bool
}

// Stage checks target (see Check), creates a temporary file beside it
// and calls write with it: write puts the raw image there from offset 0,
// seeking over holes (the file is new, so they read as zeros), and may
// read back what it wrote (the io.WriteSeeker is also an io.Reader). Every
// read, write and seek fails with context.Cause(ctx) once ctx is done.
// Stage then compresses the image when the target's name ends in .zst or
// .xz (case-insensitive), sets opts.Perm, syncs and closes the file. On
// any error nothing is left behind; errors name the target, and wrap
// context.Cause(ctx) when ctx ended the write.
func Stage(ctx context.Context, target string, opts Options, write func(io.WriteSeeker) error) (*Staged, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string, int64) {}
	}
	var digest, zdigest string
	s, err := stage(ctx, target, opts, func(out *os.File, wrap func(error) error) (int64, error) {
		comp := compressionOf(target)
		raw := out
		if comp != noCompression {
			var err error
			if raw, err = os.CreateTemp(filepath.Dir(out.Name()), "."+filepath.Base(target)+".raw-*"); err != nil {
				return 0, wrap(err)
			}
			defer func() {
				raw.Close()
				os.Remove(raw.Name())
			}()
		}
		progress("image", 0)
		sum := newSeqSum()
		defer sum.close()
		if err := write(&ctxFile{ctx: ctx, f: raw, sum: sum, progress: func(n int64) { progress("image", n) }}); err != nil {
			return 0, wrap(err)
		}
		size, err := raw.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, wrap(err)
		}
		if digest, err = sum.finish(ctx, raw, size); err != nil {
			return 0, wrap(fmt.Errorf("hashing: %w", err))
		}
		if comp != noCompression {
			progress("compress", 0)
			h := sha256.New()
			w := io.MultiWriter(out, h)
			var err error
			if comp == xzCompression {
				err = compressXZ(ctx, w, raw, size, xzChunkSize, func(n int64) { progress("compress", n) })
			} else {
				err = compressZstd(w, &ctxFile{ctx: ctx, f: raw, progress: func(n int64) { progress("compress", n) }})
			}
			if err != nil {
				return 0, wrap(fmt.Errorf("compressing: %w", err))
			}
			zdigest = formatDigest(h)
		}
		return size, nil
	})
	if err != nil {
		return nil, err
	}
	s.digest, s.zdigest = digest, zdigest
	return s, nil
}

// stage is the frame Stage and StageClone share: it checks target,
// creates the temporary file beside it and lets fill put the image there
// (fill returns the raw image's size, and its errors as they are to be
// returned, using wrap to name the target), then sets opts.Perm, syncs
// and closes the file. On any error nothing is left behind.
func stage(ctx context.Context, target string, opts Options, fill func(out *os.File, wrap func(error) error) (int64, error)) (s *Staged, err error) {
	kind := cmp.Or(opts.Kind, "image")
	wrap := func(err error) error {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return fmt.Errorf("writing %s %s: %w", kind, target, err)
	}
	if err := check(kind, target); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, wrap(ctx.Err())
	}
	if opts.Perm == 0 {
		opts.Perm = 0o644
	}
	out, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, wrap(err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	size, err := fill(out, wrap)
	if err != nil {
		return nil, err
	}
	if err := out.Chmod(opts.Perm); err != nil {
		return nil, wrap(err)
	}
	if err := out.Sync(); err != nil {
		return nil, wrap(err)
	}
	if err := out.Close(); err != nil {
		return nil, wrap(err)
	}
	st, err := os.Stat(out.Name())
	if err != nil {
		return nil, wrap(err)
	}
	return &Staged{kind: kind, target: target, tmp: out.Name(), size: size, allocated: AllocatedBytes(st)}, nil
}

// Name is the temporary file's name, for a caller that must change its
// owner before Commit.
func (s *Staged) Name() string { return s.tmp }

// Size is the raw image's size, before any compression.
func (s *Staged) Size() int64 { return s.size }

// Digest is the raw image's SHA-256 as "sha256:<hex>" (of the bytes the
// file reads as, holes as zeros, before any compression); "" for a
// StageClone, whose clone its caller changes by name.
func (s *Staged) Digest() string { return s.digest }

// CompressedDigest is the compressed file's SHA-256 as "sha256:<hex>",
// when the target asked for compression; else "".
func (s *Staged) CompressedDigest() string { return s.zdigest }

// Allocated is the disk space the staged file takes: less than Size for
// a sparse raw image, the compressed size for a compressed one.
func (s *Staged) Allocated() int64 { return s.allocated }

// Commit renames the staged image over its target and syncs the
// directory (best effort: not every system can), unless ctx is done or
// the target has meanwhile become something Check refuses.
func (s *Staged) Commit(ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("writing %s %s: %w", s.kind, s.target, context.Cause(ctx))
	}
	// Again just before the rename: a symlink, device or directory put
	// there during the write is refused, never replaced.
	if err := check(s.kind, s.target); err != nil {
		return err
	}
	if err := os.Rename(s.tmp, s.target); err != nil {
		return fmt.Errorf("writing %s %s: %w", s.kind, s.target, err)
	}
	s.committed = true
	syncDir(filepath.Dir(s.target))
	return nil
}

// Discard removes the staged file unless it was committed; it is meant
// to be deferred after Stage.
func (s *Staged) Discard() {
	if !s.committed {
		os.Remove(s.tmp)
	}
}

// Check returns an error when Stage or Commit would refuse target: it
// exists and is not a regular file. Callers check early with it, before
// spending the time to make an image.
func Check(target string) error { return check("image", target) }

func check(kind, target string) error {
	err := CheckReplaceable(target)
	if err == nil {
		return nil
	}
	if fi, lerr := os.Lstat(target); lerr == nil {
		switch m := fi.Mode(); {
		case m&fs.ModeSymlink != 0:
			err = fmt.Errorf("%w (name its target to replace that)", err)
		case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
			err = fmt.Errorf("%w (write an image file, then copy it with dd)", err)
		}
	}
	return fmt.Errorf("writing %s %s: %w", kind, target, err)
}

// CheckReplaceable refuses to replace name unless it is a regular file or
// absent: an output renamed over a device, directory, FIFO, socket or
// symlink would replace what the name stood for.
func CheckReplaceable(name string) error {
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if m := fi.Mode(); !m.IsRegular() {
		return fmt.Errorf("refusing to replace %s", unixmode.Kind(m))
	}
	return nil
}

// compression is how a target's name asks for its image to be compressed.
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

// compressZstd compresses the raw image, read from its start, into out
// (xz is compressXZ's: zstd's encoder is concurrent already).
func compressZstd(out io.Writer, raw io.ReadSeeker) error {
	if _, err := raw.Seek(0, io.SeekStart); err != nil {
		return err
	}
	enc, err := NewZstdWriter(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(enc, raw); err != nil {
		enc.Close()
		return err
	}
	return enc.Close()
}

// NewZstdWriter returns the zstd encoder of every .zst image: one frame,
// at a fixed level, whose bytes depend only on its input (not on the
// encoder's concurrency), so that an image pushed to a registry by the oci
// package compresses to the same blob as the build's own .zst of it.
func NewZstdWriter(w io.Writer) (*zstd.Encoder, error) {
	return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
}

// ContextReader fails its reads once ctx is done (with its cause), so
// that an interrupt stops a long copy at the next buffer.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if ctx.Err() != nil {
			return 0, context.Cause(ctx)
		}
		return r.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// ctxFile is a file whose reads, writes and seeks fail once ctx is done,
// so that an interrupt stops the image writer (and the compressor) at the
// next buffer, and which reports the furthest offset it got to.
type ctxFile struct {
	ctx      context.Context
	f        *os.File
	sum      *seqSum // hashes what is written, when not nil
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
	if c.sum != nil {
		c.sum.write(c.at, b[:n])
	}
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

// seqSum hashes a new file as it is written front to back, so that an
// image's digest costs no second read: the bytes a forward seek skips
// are hashed as the zeros they read as. A write behind what was hashed (a
// writer going back; ext4img never does) spoils the sum, and finish then
// reads the file back instead.
//
// The hashing runs on a goroutine of its own, on copies of what is
// written (at most sumPieces pieces of sumPiece bytes in flight), so that
// on a second core it costs the writer a copy, not the hash.
type seqSum struct {
	h       hash.Hash
	n       int64 // bytes given to hash
	spoiled bool
	jobs    chan sumJob
	free    chan []byte
	done    chan struct{}
	closed  bool
}

const (
	sumPiece  = 256 << 10
	sumPieces = 8
)

// sumJob is data to hash, or a run of zeros.
type sumJob struct {
	data  []byte
	zeros int64
}

func newSeqSum() *seqSum {
	s := &seqSum{h: sha256.New(), jobs: make(chan sumJob, sumPieces), free: make(chan []byte, sumPieces), done: make(chan struct{})}
	for range sumPieces {
		s.free <- make([]byte, sumPiece)
	}
	go func() {
		defer close(s.done)
		zero := make([]byte, 64<<10)
		for j := range s.jobs {
			if j.data != nil {
				s.h.Write(j.data)
				s.free <- j.data[:cap(j.data)]
				continue
			}
			for n := j.zeros; n > 0; {
				k := min(n, int64(len(zero)))
				s.h.Write(zero[:k])
				n -= k
			}
		}
	}()
	return s
}

func (s *seqSum) write(off int64, b []byte) {
	if s.spoiled || len(b) == 0 {
		return
	}
	if off < s.n {
		s.spoiled = true
		return
	}
	s.zeros(off - s.n)
	for len(b) > 0 {
		buf := <-s.free
		k := copy(buf, b)
		s.jobs <- sumJob{data: buf[:k]}
		b = b[k:]
		s.n += int64(k)
	}
}

// zeros hashes n zero bytes.
func (s *seqSum) zeros(n int64) {
	if n > 0 {
		s.jobs <- sumJob{zeros: n}
		s.n += n
	}
}

// close stops the hashing goroutine and waits for it; it may be called
// more than once (finish calls it, and Stage defers it for the error
// paths).
func (s *seqSum) close() {
	if !s.closed {
		s.closed = true
		close(s.jobs)
		<-s.done
	}
}

// finish returns the digest of the size bytes of f: what was written and
// the zeros of the holes after it, or f read back when the sum was
// spoiled.
func (s *seqSum) finish(ctx context.Context, f *os.File, size int64) (string, error) {
	if !s.spoiled && s.n <= size {
		s.zeros(size - s.n)
		s.close()
		return formatDigest(s.h), nil
	}
	s.close()
	s.h.Reset()
	src := &ctxFile{ctx: ctx, f: f, progress: func(int64) {}}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if _, err := io.Copy(s.h, io.LimitReader(src, size)); err != nil {
		return "", err
	}
	return formatDigest(s.h), nil
}

func formatDigest(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }
