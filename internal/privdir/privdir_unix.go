//go:build unix

package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// owner returns the uid owning fi.
func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// trusted reports whether uid may own what the cache holds: root, the
// user, and under sudo (root with SUDO_UID, which only root's own
// environment can set) the user who ran sudo, whose cache `sudo -E` finds.
func trusted(uid int) bool {
	euid := os.Geteuid()
	if uid == 0 || uid == euid {
		return true
	}
	if euid == 0 {
		if s, err := strconv.Atoi(os.Getenv("SUDO_UID")); err == nil && s == uid {
			return true
		}
	}
	return false
}

// OwnedByMe reports whether fi (from Lstat or Stat) belongs to the
// invoking user.
func OwnedByMe(fi fs.FileInfo) bool { return owner(fi) == os.Geteuid() }

// notMine is the error about an entry another user owns.
func notMine(what, path string, fi fs.FileInfo) error {
	return fmt.Errorf("%s %s is owned by uid %d, not by you (uid %d) or root: %s; use a cache directory of your own",
		what, quote(path), owner(fi), os.Geteuid(), fixGroup)
}

// writable is the error about an entry in the cache others can write.
// What they could write may be there already, so the advice is to start
// again, not chmod.
func writable(what, path string, fi fs.FileInfo) error {
	return fmt.Errorf("%s %s is writable by %s (mode %04o, owner uid %d): %s; remove the cache (rootfs-synth makes a new one) or use a cache directory of your own",
		what, quote(path), writers(fi), unixPerm(fi), owner(fi), fixGroup)
}

// writers says who besides the owner may write fi: its group (by gid:
// on systems with a group per user, that group may be the user alone) or
// every user.
func writers(fi fs.FileInfo) string {
	if fi.Mode().Perm()&0o002 != 0 {
		return "every user"
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("its group (gid %d)", st.Gid)
	}
	return "its group"
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
		// The path was resolved before it was checked: a link here was
		// put in place since, by whoever may write the directory above.
		return fmt.Errorf("checking the cache directory %s: %s became a symlink while it was checked", quote(root), quote(p))
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
		return fmt.Errorf("%s, above the cache directory %s, is writable by %s (mode %04o, owner uid %d): %s; run chmod go-w %s or use a cache directory elsewhere",
			quote(p), quote(root), writers(fi), unixPerm(fi), owner(fi), fixGroup, quote(p))
	}
	return nil
}

// checkDir checks the cache directory or one in it, seen with Lstat.
func checkDir(p string, fi fs.FileInfo) error {
	switch {
	case !fi.IsDir():
		return fmt.Errorf("cache directory %s is %s, not a directory: the cache holds only what rootfs-synth made there; remove it", quote(p), unixmode.Kind(fi.Mode()))
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
		return fmt.Errorf("cache file %s is %s, not a regular file: the cache holds only what rootfs-synth made there; remove it", quote(p), unixmode.Kind(fi.Mode()))
	case !trusted(owner(fi)):
		return notMine("cache file", p, fi)
	case fi.Mode().Perm()&0o022 != 0:
		return writable("cache file", p, fi)
	case links(fi) > 1:
		// rootfs-synth never links files in the cache: one linked from
		// elsewhere (planted while the cache was shared) can be changed
		// through the other name.
		return fmt.Errorf("cache file %s has %d names (hard links); rootfs-synth makes none: %s; remove the cache (rootfs-synth makes a new one)", quote(p), links(fi), fixGroup)
	}
	return nil
}

func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
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
