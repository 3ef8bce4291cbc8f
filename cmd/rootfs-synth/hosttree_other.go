//go:build !linux

package main

import (
	"context"
	"io"
	"os"

	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
)

// maxPath is the shortest PATH_MAX of the other systems (macOS's).
const maxPath = 1024

// xattrs reads none here (see internal/hostfs).
func (d *hostDir) xattrs(hp hostPath) (map[string][]byte, error) {
	return hostfs.Xattrs(hp.full)
}

// open opens the regular file rel for the image writer, checking that it
// is still the file walked (id). Unlike on Linux, a path swapped for a
// FIFO after the walk can make open wait for a writer.
func (d *hostDir) open(ctx context.Context, rel string, id fileID) (io.ReadCloser, error) {
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
	if err == nil {
		st := hostfs.StatOf(now)
		err = id.check(p, now.Mode().IsRegular(), st.Dev, st.Ino, now.Size())
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
