package hosttree

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
)

// maxPath is Linux's PATH_MAX, the terminating NUL included.
const maxPath = 4096

// xattrs reads rel's own extended attributes. A path too long to name
// goes through /proc/self/fd/N/NAME, N the open parent directory: the
// kernel follows that magic link and reads NAME's own attributes.
func (d *Dir) xattrs(hp hostPath) (map[string][]byte, error) {
	if hp.short {
		return hostfs.Xattrs(hp.full)
	}
	p := hp.full
	dir, err := d.root.Open(rootRel(path.Dir(hp.rel)))
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	defer dir.Close()
	x, err := hostfs.Xattrs(fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(p)))
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	return x, nil
}

// open opens the regular file rel for the image writer, checking that it
// still is one. The walk and the write are minutes apart on a big tree,
// and a path swapped meanwhile must be an error, not a hang or a wrong
// image: O_NONBLOCK keeps open(2) from waiting for a writer when rel
// became a FIFO (it changes nothing for a regular file), O_NOFOLLOW
// refuses a symlink, O_NOCTTY keeps a terminal from becoming ours. The
// fstat that checks the type is the one Stat answers with.
//
// It is a bare file descriptor rather than an *os.File: os.Open fstats
// the file too but keeps the answer to itself, so checking it would cost
// a second fstat per file of a tree of many small files.
func (d *Dir) open(ctx context.Context, rel string) (*hostFile, error) {
	const flags = syscall.O_RDONLY | syscall.O_CLOEXEC | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_NOCTTY
	p, short := d.full(rel)
	fd := -1
	if short {
		for {
			var err error
			fd, err = syscall.Open(p, flags, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return nil, &fs.PathError{Op: "open", Path: p, Err: err}
			}
			break
		}
	} else {
		f, err := d.root.OpenFile(rootRel(rel), flags, 0)
		if err != nil {
			return nil, err
		}
		fd, err = syscall.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			return nil, &fs.PathError{Op: "dup", Path: p, Err: err}
		}
		syscall.CloseOnExec(fd)
	}
	f := &hostFile{ctx: ctx, fd: fd, path: p}
	if err := syscall.Fstat(fd, &f.st); err != nil {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "fstat", Path: p, Err: err}
	}
	if f.st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, notRegular(p, f.Mode())
	}
	return f, nil
}

// hostFile reads a file descriptor until ctx is done; it is an fs.File
// whose FileInfo is its open's fstat.
type hostFile struct {
	ctx  context.Context
	fd   int
	path string
	st   syscall.Stat_t
}

func (f *hostFile) Stat() (fs.FileInfo, error) { return f, nil }

func (f *hostFile) Name() string { return filepath.Base(f.path) }
func (f *hostFile) Size() int64  { return f.st.Size }
func (f *hostFile) Mode() fs.FileMode {
	m := fs.FileMode(f.st.Mode & 0o777)
	switch f.st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	default:
		m |= fs.ModeIrregular
	}
	return m
}
func (f *hostFile) ModTime() time.Time { return time.Unix(f.st.Mtim.Unix()) }
func (f *hostFile) IsDir() bool        { return f.Mode().IsDir() }
func (f *hostFile) Sys() any           { return &f.st }

func (f *hostFile) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	for {
		n, err := syscall.Read(f.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *hostFile) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}
