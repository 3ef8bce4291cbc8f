package main

import (
	"io"
	"io/fs"
	"syscall"
)

// openHostFile opens a regular file for the image writer. It is a bare
// file descriptor rather than an *os.File: os.Open also fstats the file
// and tries to register it with the poller, which doubles the system
// calls per file of a tree of many small files. O_NOFOLLOW refuses a path
// that was replaced by a symbolic link after the walk.
func openHostFile(p string) (io.ReadCloser, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: p, Err: err}
		}
		return &hostFile{fd: fd, path: p}, nil
	}
}

type hostFile struct {
	fd   int
	path string
}

func (f *hostFile) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
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
