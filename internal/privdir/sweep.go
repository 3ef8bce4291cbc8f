package privdir

import (
	"os"
	"strings"
	"time"
)

// SweepTemps removes the temporary files that runs killed in the middle of
// a write left in parent/name: the regular files whose names match ours,
// that belong to the user and were last changed before cutoff (a younger
// one may belong to a concurrent run). It never removes anything through a
// symlink: name must be a directory itself, not a link to one, and each
// entry is removed relative to the directory opened, which is checked to
// be the one that was looked at. Errors are ignored: a sweep that cannot
// run leaves a few files behind, nothing worse.
func SweepTemps(parent, name string, ours func(name string) bool, cutoff time.Time) {
	root, err := os.OpenRoot(parent)
	if err != nil {
		return
	}
	defer root.Close()
	seen, err := root.Lstat(name)
	if err != nil || !seen.IsDir() {
		return
	}
	dir, err := root.OpenRoot(name)
	if err != nil {
		return
	}
	defer dir.Close()
	// OpenRoot would follow a symlink put in place since the Lstat (within
	// parent); the directory opened must be the one looked at.
	if opened, err := dir.Stat("."); err != nil || !os.SameFile(seen, opened) || !OwnedByMe(opened) {
		return
	}
	f, err := dir.Open(".")
	if err != nil {
		return
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return
	}
	for _, e := range ents {
		if !ours(e.Name()) {
			continue
		}
		fi, err := dir.Lstat(e.Name())
		if err != nil || !fi.Mode().IsRegular() || !OwnedByMe(fi) || !fi.ModTime().Before(cutoff) {
			continue
		}
		dir.Remove(e.Name())
	}
}

// IsTemp reports whether name is what os.CreateTemp makes of the pattern
// prefix+"*": prefix, then the decimal digits it puts for the star.
func IsTemp(name, prefix string) bool {
	digits, ok := strings.CutPrefix(name, prefix)
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}
