// Package privdir refuses a cache that another local user could change,
// the way OpenSSH's StrictModes refuses a ~/.ssh that others can write:
// the cache directory and every directory above it, every directory the
// program walks into below it and every file it opens there must belong to
// the invoking user or root and be writable by nobody else (an ancestor
// may also be root's and sticky, like /tmp: others cannot rename what they
// do not own in it). What passes can then be changed only by the user and
// root, so the cache's contents can be trusted as the user's own.
//
// It protects against other local users, not against root or the same
// user. On systems without Unix owners and modes (Windows) the checks are
// left out.
package privdir

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	dirPerm  = 0o755 // what CheckRoot makes a missing cache directory with
	fixGroup = "another user could change what you build"
)

// CheckRoot makes the cache directory root (0755, with its missing
// parents), resolves it as the kernel does (symlinks, and ".." after
// them) and checks the directory it names and every ancestor of that. It
// returns the resolved path: the caller uses it from then on, so no
// symlink on the way is ever followed again, and what was checked is what
// is used.
func CheckRoot(root string) (string, error) {
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return "", fmt.Errorf("making the cache directory: %w", err)
	}
	raw := root
	if !filepath.IsAbs(raw) {
		// Not filepath.Abs: it cleans "link/.." away as text, where the
		// kernel goes up from the link's target.
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("checking the cache directory %s: %w", quote(root), err)
		}
		raw = wd + string(filepath.Separator) + raw
	}
	real, err := filepath.EvalSymlinks(raw)
	if err != nil {
		return "", fmt.Errorf("checking the cache directory %s: %w", quote(root), err)
	}
	if err := checkChain(root, real); err != nil {
		return "", err
	}
	return real, nil
}

// checkChain checks dir, a path without symlinks, as the cache directory
// and each of its ancestors as one; root names the cache directory in
// messages, as the user gave it.
func checkChain(root, dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("checking the cache directory %s: %w", quote(root), err)
		}
		if err := checkAncestor(root, p, fi, p == dir); err != nil {
			return err
		}
		if parent := filepath.Dir(p); parent == p {
			return nil
		}
	}
}

// MkdirAll makes dir, a directory below the checked cache directory root,
// with perm, and checks every directory from root down to it.
func MkdirAll(root, dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("making cache directory: %w", err)
	}
	return CheckDirs(root, dir)
}

// CheckDirs checks every directory below the checked cache directory root
// down to dir: each must be a directory (not a symlink) of the user's or
// root's that nobody else can write.
func CheckDirs(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("checking cache directory %s: not below the cache directory %s", quote(dir), quote(root))
	}
	if rel == "." {
		return nil
	}
	p := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("checking cache directory: %w", err)
		}
		if err := checkDir(p, fi); err != nil {
			return err
		}
	}
	return nil
}

// Open opens the file path below the checked cache directory root for
// reading after checking the directories on the way (CheckDirs), and
// checks the file it opened (CheckFile).
func Open(root, path string) (*os.File, error) {
	if err := CheckDirs(root, filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	if err := CheckFile(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile is os.ReadFile through Open.
func ReadFile(root, path string) ([]byte, error) {
	f, err := Open(root, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// CheckFile checks a file opened in the cache: a regular file of the
// user's or root's that nobody else can write.
func CheckFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checking cache file: %w", err)
	}
	return checkFile(f.Name(), fi)
}

// quote leaves a path as it is when it has nothing a terminal could take
// for a control sequence, and quotes it (%q) otherwise: parts of cache
// paths come from package names.
func quote(p string) string {
	if q := strconv.Quote(p); q[1:len(q)-1] != p {
		return q
	}
	return p
}
