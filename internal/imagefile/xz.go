package imagefile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/ulikunitz/xz"
)

// xz is the slow one of the two compressions: github.com/ulikunitz/xz
// compresses 391 MiB of image in 4 minutes on one core, and has no
// parallel writer. So the raw image is cut into chunks of xzChunkSize,
// each compressed on its own into a complete xz stream, several at once,
// and the streams are written one after the other in order: a file of
// concatenated streams, which the format allows and xz -d, xz -t and
// ulikunitz's reader all read as one (xz -T does the same with the
// blocks of one stream). The cut does not depend on the number of cores,
// so neither do the bytes.
//
// A worker reads its chunk from the raw file as it compresses it, a MiB
// at a time; what is in memory is each worker's encoder (~56 MiB for
// the 8 MiB dictionary and its hash table) and the compressed streams
// not yet written, at most xzWorkers()+1 of them.

const (
	// xzDictCap is ulikunitz's default dictionary, as xz -6's.
	xzDictCap = 8 << 20
	// xzChunkSize is the raw bytes per stream: 3 dictionaries, as xz -T
	// makes its blocks, so that a chunk loses little to its cut.
	xzChunkSize = 3 * xzDictCap
	// xzMaxWorkers bounds the encoders at once on a host of many cores,
	// and with them the memory.
	xzMaxWorkers = 4
	// xzPiece is what a worker reads and hands the encoder at a time,
	// checking the context in between.
	xzPiece = 1 << 20
)

func xzWorkers() int { return max(1, min(runtime.GOMAXPROCS(0), xzMaxWorkers)) }

// xzChunk is one chunk on its way through the workers.
type xzChunk struct {
	off, n int64
	out    []byte // its xz stream
	err    error
	done   chan struct{}
}

// compressXZ compresses size bytes of raw, from offset 0, into out as
// concatenated xz streams of chunk raw bytes each (xzChunkSize but in
// tests), telling progress the raw bytes written so far. It stops within
// a MiB once ctx ends.
func compressXZ(ctx context.Context, out io.Writer, raw io.ReaderAt, size, chunk int64, progress func(int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := xzWorkers()
	// A chunk holds a slot from dispatch until its stream is written: the
	// streams in memory are bounded however far the workers run ahead.
	slots := make(chan struct{}, workers+1)
	jobs := make(chan *xzChunk)
	inOrder := make(chan *xzChunk, workers+1)
	var wg sync.WaitGroup
	zeros := &zeroStreams{}
	for range workers {
		wg.Go(func() {
			for c := range jobs {
				c.out, c.err = zeros.compress(ctx, io.NewSectionReader(raw, c.off, c.n))
				close(c.done)
			}
		})
	}
	defer wg.Wait()
	go func() {
		defer close(inOrder)
		defer close(jobs)
		for off := int64(0); off < size || off == 0; off += chunk {
			c := &xzChunk{off: off, n: min(chunk, size-off), done: make(chan struct{})}
			if !trySend(ctx, slots, struct{}{}) || !trySend(ctx, inOrder, c) {
				return
			}
			if !trySend(ctx, jobs, c) {
				// c is in line to be written: it must be done, or the
				// writer below waits for it forever.
				c.err = context.Cause(ctx)
				close(c.done)
				return
			}
		}
	}()
	var done int64
	for c := range inOrder {
		<-c.done
		err := c.err
		if err == nil {
			_, err = out.Write(c.out)
		}
		if err != nil {
			cancel()
			return err
		}
		<-slots
		done += c.n
		progress(done)
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if done != size {
		return errors.New("image changed size while being compressed")
	}
	return nil
}

func trySend[T any](ctx context.Context, ch chan<- T, v T) bool {
	select {
	case ch <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// zeroStreams compresses chunks, computing the stream of a chunk of zeros
// (the free space of an image, the holes of a sparse one) once per
// length: it is the same bytes every time, and ulikunitz takes as long
// over zeros as over data. Looking for zeros first reads a chunk twice,
// from the page cache; compressing it once costs seconds.
type zeroStreams struct {
	mu sync.Mutex
	of map[int64][]byte
}

func (z *zeroStreams) compress(ctx context.Context, r *io.SectionReader) ([]byte, error) {
	zero, err := allZero(r)
	if err != nil {
		return nil, err
	}
	if !zero {
		return xzStream(ctx, r)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if s, ok := z.of[r.Size()]; ok {
		return s, nil
	}
	s, err := xzStream(ctx, r)
	if err != nil {
		return nil, err
	}
	if z.of == nil {
		z.of = make(map[int64][]byte)
	}
	z.of[r.Size()] = s
	return s, nil
}

// allZero reads r to its end, or to its first non-zero byte.
func allZero(r *io.SectionReader) (bool, error) {
	defer r.Seek(0, io.SeekStart)
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// xzStream compresses what r holds into one xz stream, xzPiece at a
// time, stopping once ctx ends: a chunk takes seconds.
func xzStream(ctx context.Context, r io.Reader) ([]byte, error) {
	var out bytes.Buffer
	w, err := xz.WriterConfig{DictCap: xzDictCap}.NewWriter(&out)
	if err != nil {
		return nil, err
	}
	piece := make([]byte, xzPiece)
	for {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		n, err := io.ReadFull(r, piece)
		if _, werr := w.Write(piece[:n]); werr != nil {
			return nil, werr
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
