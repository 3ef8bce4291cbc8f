package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"unsafe"
)

func statOf(fi fs.FileInfo) hostStat {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return hostStat{nlink: 1}
	}
	rdev := uint64(st.Rdev)
	return hostStat{
		dev: uint64(st.Dev), ino: st.Ino, nlink: uint64(st.Nlink),
		uid: st.Uid, gid: st.Gid,
		// glibc's gnu_dev_major/minor encoding.
		major: uint32((rdev>>8)&0xfff | (rdev>>32)&^0xfff),
		minor: uint32(rdev&0xff | (rdev>>12)&^0xff),
	}
}

// readXattrs returns p's own extended attributes (llistxattr/lgetxattr,
// so a symlink's, not its target's). Attributes this user may not read
// (trusted.* unless root) are not listed by the kernel; a filesystem
// without xattr support yields none.
func readXattrs(p string) (map[string][]byte, error) {
	names, err := xattrBuf(func(b []byte) (int, error) { return xattrSys(syscall.SYS_LLISTXATTR, p, "", b) })
	if errors.Is(err, syscall.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	var x map[string][]byte
	for _, name := range strings.Split(string(names), "\x00") {
		if name == "" {
			continue
		}
		v, err := xattrBuf(func(b []byte) (int, error) { return xattrSys(syscall.SYS_LGETXATTR, p, name, b) })
		if errors.Is(err, syscall.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		if x == nil {
			x = map[string][]byte{}
		}
		x[name] = v
	}
	return x, nil
}

// xattrBuf calls f with a growing buffer until the result fits.
func xattrBuf(f func([]byte) (int, error)) ([]byte, error) {
	for size := 1024; ; size *= 4 {
		b := make([]byte, size)
		n, err := f(b)
		if errors.Is(err, syscall.ERANGE) && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return b[:n], nil
	}
}

func xattrSys(trap uintptr, p, name string, b []byte) (int, error) {
	pp, err := syscall.BytePtrFromString(p)
	if err != nil {
		return 0, err
	}
	var r uintptr
	var errno syscall.Errno
	if trap == syscall.SYS_LLISTXATTR {
		r, _, errno = syscall.Syscall(trap, uintptr(unsafe.Pointer(pp)), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	} else {
		np, err := syscall.BytePtrFromString(name)
		if err != nil {
			return 0, err
		}
		r, _, errno = syscall.Syscall6(trap, uintptr(unsafe.Pointer(pp)), uintptr(unsafe.Pointer(np)),
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

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
