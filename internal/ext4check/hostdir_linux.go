package ext4check

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"
)

// FromDir returns the manifest of a host directory tree: lstat, never
// following symlinks, and the xattrs the caller may read (llistxattr and
// lgetxattr; trusted.* needs root). Hard-link groups are by (device, inode)
// within the tree.
func FromDir(dir string) (Manifest, error) {
	m := Manifest{}
	groups := map[any][]string{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := "/" + strings.TrimPrefix(filepath.ToSlash(rel), ".")
		key = "/" + strings.Trim(key, "/")
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", p, err)
		}
		n := &Node{
			Perm:      st.Mode & 0o7777,
			UID:       st.Uid,
			GID:       st.Gid,
			Mtime:     int64(st.Mtim.Sec),
			MtimeNsec: int64(st.Mtim.Nsec),
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			n.Type, n.Size = 'f', st.Size
			if n.SHA256, err = hashFile(p); err != nil {
				return err
			}
		case syscall.S_IFDIR:
			n.Type = 'd'
		case syscall.S_IFLNK:
			n.Type = 'l'
			if n.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFCHR, syscall.S_IFBLK:
			n.Type = 'c'
			if st.Mode&syscall.S_IFMT == syscall.S_IFBLK {
				n.Type = 'b'
			}
			rdev := uint64(st.Rdev)
			n.Major = uint32((rdev>>8)&0xfff | (rdev>>32)&^0xfff)
			n.Minor = uint32(rdev&0xff | (rdev>>12)&^0xff)
		case syscall.S_IFIFO:
			n.Type = 'p'
		case syscall.S_IFSOCK:
			n.Type = 's'
		}
		if n.Xattrs, err = hostXattrs(p); err != nil {
			return err
		}
		m[key] = n
		if n.Type != 'd' {
			id := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
			groups[id] = append(groups[id], key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tree %s: %w", dir, err)
	}
	setLinkGroups(m, groups)
	return m, nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hostXattrs reads p's own xattrs (not a symlink target's).
func hostXattrs(p string) (map[string]string, error) {
	names := make([]byte, 64<<10)
	n, err := xattrCall(syscall.SYS_LLISTXATTR, p, "", names)
	if err == syscall.ENOTSUP {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	var x map[string]string
	for _, name := range strings.Split(strings.TrimSuffix(string(names[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		val := make([]byte, 64<<10)
		vn, err := xattrCall(syscall.SYS_LGETXATTR, p, name, val)
		if err == syscall.ENODATA || err == syscall.EPERM || err == syscall.EACCES {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		if x == nil {
			x = map[string]string{}
		}
		x[name] = string(val[:vn])
	}
	return x, nil
}

// xattrCall is llistxattr(path, buf) or lgetxattr(path, name, buf).
func xattrCall(trap uintptr, p, name string, buf []byte) (int, error) {
	pp, err := syscall.BytePtrFromString(p)
	if err != nil {
		return 0, err
	}
	var r uintptr
	var errno syscall.Errno
	if trap == syscall.SYS_LLISTXATTR {
		r, _, errno = syscall.Syscall(trap, uintptr(unsafe.Pointer(pp)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	} else {
		np, err := syscall.BytePtrFromString(name)
		if err != nil {
			return 0, err
		}
		r, _, errno = syscall.Syscall6(trap, uintptr(unsafe.Pointer(pp)), uintptr(unsafe.Pointer(np)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
