//go:build unix

package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// owner returns the uid owning fi.
func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func trusted(uid int) bool { return uid == 0 || uid == os.Geteuid() }

// OwnedByMe reports whether fi (from Lstat or Stat) belongs to the
// invoking user.
func OwnedByMe(fi fs.FileInfo) bool { return owner(fi) == os.Geteuid() }

// notMine is the error about an entry another user owns.
func notMine(what, path string, fi fs.FileInfo) error {
	return fmt.Errorf("%s %s is owned by uid %d, not by you (uid %d) or root: %s; use a cache directory of your own",
		what, quote(path), owner(fi), os.Geteuid(), fixGroup)
}

// writable is the error about an entry others can write.
func writable(what, path string, fi fs.FileInfo) error {
	return fmt.Errorf("%s %s is writable by other users (mode %04o, owner uid %d): %s; run chmod go-w %s or use a cache directory of your own",
		what, quote(path), unixPerm(fi), owner(fi), fixGroup, quote(path))
}

// unixPerm returns fi's permission bits with setuid, setgid and sticky
// where chmod has them.
func unixPerm(fi fs.FileInfo) uint32 {
	m := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// checkAncestor checks p, the cache directory itself (isRoot) or one above
// it, seen with Lstat; root names the cache directory in messages.
func checkAncestor(root, p string, fi fs.FileInfo, isRoot bool) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		// A link's own mode means nothing; whoever owns it can replace it.
		if !trusted(owner(fi)) {
			return notMine("symlink", p, fi)
		}
		return nil
	}
	if isRoot {
		return checkDir(p, fi)
	}
	if !fi.IsDir() {
		return fmt.Errorf("checking the cache directory %s: %s is not a directory", quote(root), quote(p))
	}
	if !trusted(owner(fi)) {
		return fmt.Errorf("%s, above the cache directory %s, is owned by uid %d, not by you (uid %d) or root: %s; use a cache directory elsewhere",
			quote(p), quote(root), owner(fi), os.Geteuid(), fixGroup)
	}
	if fi.Mode().Perm()&0o022 != 0 && (owner(fi) != 0 || fi.Mode()&fs.ModeSticky == 0) {
		return fmt.Errorf("%s, above the cache directory %s, is writable by other users (mode %04o, owner uid %d): %s; run chmod go-w %s or use a cache directory elsewhere",
			quote(p), quote(root), unixPerm(fi), owner(fi), fixGroup, quote(p))
	}
	return nil
}

// checkDir checks the cache directory or one in it, seen with Lstat.
func checkDir(p string, fi fs.FileInfo) error {
	switch {
	case !fi.IsDir():
		return fmt.Errorf("cache directory %s is %s, not a directory: the cache holds only what rootfs-synth made there; remove it", quote(p), typeName(fi))
	case !trusted(owner(fi)):
		return notMine("cache directory", p, fi)
	case fi.Mode().Perm()&0o022 != 0:
		return writable("cache directory", p, fi)
	}
	return nil
}

// checkFile checks a file opened in the cache.
func checkFile(p string, fi fs.FileInfo) error {
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("cache file %s is %s, not a regular file: the cache holds only what rootfs-synth made there; remove it", quote(p), typeName(fi))
	case !trusted(owner(fi)):
		return notMine("cache file", p, fi)
	case fi.Mode().Perm()&0o022 != 0:
		return writable("cache file", p, fi)
	}
	return nil
}

func typeName(fi fs.FileInfo) string {
	switch t := fi.Mode().Type(); {
	case t&fs.ModeSymlink != 0:
		return "a symlink"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	default:
		return "mode " + t.String()
	}
}

// openNoFollow opens path for reading without following a symlink in its
// last component and without blocking on a FIFO, so that CheckFile gets to
// say what it is.
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("cache file %s is a symlink, not a regular file: the cache holds only what rootfs-synth made there; remove it", quote(path))
	}
	return f, err
}
