package ext4img

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
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
	listed  chan struct{} // closed when listFiles returns
}

type prefetchWorker struct {
	files chan fileRef        // the files this worker is to read, in order
	ready chan *contentReader // this worker's files, in order
	free  chan []byte         // this worker's buffers, to reuse
	exit  chan struct{}       // closed when run returns
}

// fileRef is a regular file to read and the name to open it by and to
// report it under: its first name in depth-first name order. Names are
// made as the files are listed, so the Writer keeps no path per file.
type fileRef struct {
	n    *node
	path string
}

// startPrefetch reads ahead the contents of root's regular files with
// data (not empty), in inode order, opening those without Content in
// files.
func startPrefetch(root *node, files fs.FS) *prefetcher {
	p := &prefetcher{done: make(chan struct{}), listed: make(chan struct{})}
	for range prefetchWorkers {
		w := &prefetchWorker{
			files: make(chan fileRef, prefetchFiles),
			ready: make(chan *contentReader, prefetchFiles),
			free:  make(chan []byte, prefetchFiles),
			exit:  make(chan struct{}),
		}
		p.workers = append(p.workers, w)
		go w.run(files, p.done)
	}
	go p.listFiles(root)
	return p
}

// listFiles hands root's regular files with data to the workers in turn,
// in inode order (eachFile).
func (p *prefetcher) listFiles(root *node) {
	defer close(p.listed)
	defer func() {
		for _, w := range p.workers {
			close(w.files)
		}
	}()
	turn := 0
	eachFile(root, func(f fileRef) error {
		if f.n.size == 0 {
			return nil // no blocks: checkEmptyFiles
		}
		select {
		case p.workers[turn].files <- f:
		case <-p.done:
			return errPrefetchStopped
		}
		turn = (turn + 1) % len(p.workers)
		return nil
	})
}

// eachFile calls fn for every regular file below root in inode order,
// named as it goes: depth first in name order (as prepare numbered them),
// each inode at its first name there. First names have increasing inode
// numbers, so a name whose inode is not above the last one met is a later
// hard link. It stops at fn's first error and returns it.
func eachFile(root *node, fn func(fileRef) error) error {
	var last uint32
	return eachName(root, func(c dirent, name string) error {
		if !c.n.mode.IsRegular() || c.n.ino <= last {
			return nil
		}
		last = c.n.ino
		return fn(fileRef{c.n, name})
	})
}

// eachName calls fn for every entry below root, depth first in name
// order, with its path; it stops at fn's first error and returns it.
func eachName(root *node, fn func(c dirent, name string) error) error {
	var walk func(d *node, dir string) error
	walk = func(d *node, dir string) error {
		for _, c := range d.children() {
			name := c.name
			if dir != "" {
				name = dir + "/" + c.name
			}
			if err := fn(c, name); err != nil {
				return err
			}
			if c.n.dir() != nil {
				if err := walk(c.n, name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(root, "")
}

func (w *prefetchWorker) run(files fs.FS, done chan struct{}) {
	defer close(w.exit)
	defer close(w.ready)
	allocated := 0
	for f := range w.files {
		select {
		case <-done:
			return
		default:
		}
		n := f.n
		c, err := openContent(f, files)
		if err != nil {
			c = &contentReader{n: n, path: f.path, err: err}
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
	<-p.listed
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
		return &contentReader{n: c.n, path: c.path, err: err}
	}
	if err := c.close(); err != nil {
		free <- buf
		return &contentReader{n: c.n, path: c.path, err: err}
	}
	return &contentReader{n: c.n, path: c.path, rc: io.NopCloser(bytes.NewReader(b)), left: c.n.size, buf: buf, free: free}
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
