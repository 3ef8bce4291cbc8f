//go:build !linux

package hosttree

import (
	"context"
	"os"

	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
)

// maxPath is the shortest PATH_MAX of the other systems (macOS's).
const maxPath = 1024

// xattrs reads none here (see internal/hostfs).
func (d *Dir) xattrs(hp hostPath) (map[string][]byte, error) {
	return hostfs.Xattrs(hp.full)
}

// open opens the regular file rel for the image writer, checking that it
// still is one. Unlike on Linux, a path swapped for a FIFO after the walk
// can make open wait for a writer.
func (d *Dir) open(ctx context.Context, rel string) (*hostFile, error) {
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
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(p, fi.Mode())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &hostFile{ctx: ctx, File: f}, nil
}

// hostFile reads an *os.File until ctx is done.
type hostFile struct {
	ctx context.Context
	*os.File
}

func (f *hostFile) Read(b []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	return f.File.Read(b)
}
