//go:build !linux

package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
)

// maxPath is the shortest PATH_MAX of the other systems (macOS's).
const maxPath = 1024

// xattrs reads none here (see internal/hostfs).
func (d *hostDir) xattrs(rel string) (map[string][]byte, error) {
	p, _ := d.full(rel)
	return hostfs.Xattrs(p)
}

// open opens the regular file rel for the image writer, checking that it
// is still the file walked (fi). Unlike on Linux, a path swapped for a
// FIFO after the walk can make open wait for a writer.
func (d *hostDir) open(ctx context.Context, rel string, fi fs.FileInfo) (io.ReadCloser, error) {
	p, short := d.full(rel)
	var f *os.File
	var err error
	if short {
		f, err = os.Open(p)
	} else {
		f, err = d.root.Open(rootRel(rel))
	}
	if err != nil {
		return nil, err
	}
	now, err := f.Stat()
	switch {
	case err != nil:
	case !now.Mode().IsRegular() || !os.SameFile(now, fi):
		err = fmt.Errorf("%s changed since it was read: no longer the same regular file", p)
	case now.Size() != fi.Size():
		err = fmt.Errorf("%s changed since it was read: %d bytes, was %d", p, now.Size(), fi.Size())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &ctxReader{ctx: ctx, f: f}, nil
}

// ctxReader reads f until ctx is done.
type ctxReader struct {
	ctx context.Context
	f   *os.File
}

func (r *ctxReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.f.Read(b)
}

func (r *ctxReader) Close() error { return r.f.Close() }
