package hostfs

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"unsafe"
)

// Xattrs returns p's own extended attributes (llistxattr and lgetxattr, so
// a symlink's, not its target's), or nil when it has none. Attributes this
// user may not read (trusted.* unless root) are not listed by the kernel; a
// filesystem without xattr support yields none.
func Xattrs(p string) (map[string][]byte, error) {
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

// SetXattr sets p's own extended attribute name (lsetxattr).
func SetXattr(p, name string, v []byte) error {
	pp, err := syscall.BytePtrFromString(p)
	if err != nil {
		return err
	}
	np, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	var vp unsafe.Pointer
	if len(v) > 0 {
		vp = unsafe.Pointer(&v[0])
	}
	_, _, errno := syscall.Syscall6(syscall.SYS_LSETXATTR, uintptr(unsafe.Pointer(pp)), uintptr(unsafe.Pointer(np)),
		uintptr(vp), uintptr(len(v)), 0, 0)
	if errno != 0 {
		return fmt.Errorf("setting xattr %s of %s: %w", name, p, errno)
	}
	return nil
}

// xattrBuf calls f with a growing buffer until the result fits (an xattr
// value is at most 64 KiB, a name list at most XATTR_LIST_MAX).
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

// xattrSys is llistxattr(p, b) or lgetxattr(p, name, b).
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
