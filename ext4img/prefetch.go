package ext4img

import (
	"bytes"
	"errors"
	"io"
)

// Read-ahead of file contents. Writing an image of many small files is
// mostly system calls (open, read, close on the source; write on the
// image); prefetchWorkers goroutines open and read the next files while
// the writer emits the current ones, so the image is written at the speed
// of several cores. Worker i takes files i, i+prefetchWorkers, ... and the
// writer takes their results round robin, so the order never changes.
// The read-ahead is bounded: each worker holds at most prefetchFiles files
// (open, or read into one of its recycled buffers); only files of at most
// prefetchBufSize bytes are read ahead (prefetchWorkers × prefetchFiles ×
// prefetchBufSize = 8 MiB in all); larger ones are opened ahead and
// streamed by the writer itself.
const (
	prefetchWorkers = 4
	prefetchFiles   = 8
	prefetchBufSize = 256 << 10
)

var errPrefetchStopped = errors.New("image writing stopped")

type prefetcher struct {
	workers []*prefetchWorker
	turn    int           // the worker that holds the next file
	done    chan struct{} // closed when the writer stops
}

type prefetchWorker struct {
	ready chan *contentReader // this worker's files, in order
	free  chan []byte         // this worker's buffers, to reuse
	exit  chan struct{}       // closed when run returns
}

// startPrefetch reads ahead the contents of files, in that order.
func startPrefetch(files []*node) *prefetcher {
	p := &prefetcher{done: make(chan struct{})}
	for i := range prefetchWorkers {
		w := &prefetchWorker{
			ready: make(chan *contentReader, prefetchFiles),
			free:  make(chan []byte, prefetchFiles),
			exit:  make(chan struct{}),
		}
		p.workers = append(p.workers, w)
		go w.run(files, i, p.done)
	}
	return p
}

func (w *prefetchWorker) run(files []*node, first int, done chan struct{}) {
	defer close(w.exit)
	defer close(w.ready)
	allocated := 0
	for i := first; i < len(files); i += prefetchWorkers {
		n := files[i]
		c, err := openContent(n)
		if err != nil {
			c = &contentReader{n: n, err: err}
		} else if n.size <= prefetchBufSize {
			var buf []byte
			select {
			case buf = <-w.free:
			default:
				if allocated < prefetchFiles {
					allocated++
					break // allocated below, as large as needed
				}
				select {
				case buf = <-w.free:
				case <-done:
					c.rc.Close()
					return
				}
			}
			if int64(cap(buf)) < n.size {
				// Buffers grow to the largest file seen, in 16 KiB steps,
				// so a tree of small files never clears 256 KiB per file.
				buf = make([]byte, (n.size+16<<10-1)&^(16<<10-1))
			}
			c = c.readAhead(buf[:cap(buf)], w.free)
		}
		select {
		case w.ready <- c:
		case <-done:
			c.discard()
			return
		}
	}
}

// next returns the reader for n, the next file in the prefetch order.
func (p *prefetcher) next(n *node) (*contentReader, error) {
	w := p.workers[p.turn]
	p.turn = (p.turn + 1) % len(p.workers)
	c, ok := <-w.ready
	switch {
	case !ok:
		return nil, errPrefetchStopped
	case c.n != n:
		panic("ext4img: prefetch order differs from the write order")
	case c.err != nil:
		return nil, c.err
	}
	return c, nil
}

// stop ends the read-ahead and closes what it opened but did not hand out.
func (p *prefetcher) stop() {
	close(p.done)
	for _, w := range p.workers {
		for c := range w.ready {
			c.discard()
		}
		<-w.exit
	}
}

// readAhead reads all of c's content into buf (at least Size bytes) and
// checks that it ends there; it returns a reader over the copy, or one
// holding the error to report when the writer reaches the file.
func (c *contentReader) readAhead(buf []byte, free chan []byte) *contentReader {
	b := buf[:c.n.size]
	if err := c.read(b); err != nil {
		free <- buf
		return &contentReader{n: c.n, err: err}
	}
	if err := c.close(); err != nil {
		free <- buf
		return &contentReader{n: c.n, err: err}
	}
	return &contentReader{n: c.n, rc: io.NopCloser(bytes.NewReader(b)), left: c.n.size, buf: buf, free: free}
}

// discard closes c without checking anything.
func (c *contentReader) discard() {
	if c.rc != nil {
		c.rc.Close()
	}
	c.recycle()
}

func (c *contentReader) recycle() {
	if c.buf != nil {
		c.free <- c.buf
		c.buf = nil
	}
}
