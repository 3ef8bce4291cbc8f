package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
)

// hostTreeOptions change what walkHostTree records.
type hostTreeOptions struct {
	// Owner, when set, replaces every uid and gid.
	Owner *[2]uint32
	// Clamp, when not zero, caps every mtime (SOURCE_DATE_EPOCH).
	Clamp time.Time
}

// hostLink is a second name for an earlier non-directory (a hard link).
type hostLink struct{ Path, Target string }

// hostStat is what the OS tells beyond fs.FileInfo (hoststat_*.go).
type hostStat struct {
	dev, ino     uint64
	nlink        uint64
	uid, gid     uint32
	major, minor uint32
}

// walkHostTree reads the host directory dir into entries in sorted order
// (lstat; symbolic links are recorded, never followed) and hard links by
// (device, inode). Regular files are opened only when the image writer
// asks for their content, so the tree is never held in memory. The root
// directory's own attributes become the entry with Path "".
func walkHostTree(dir string, opts hostTreeOptions) ([]ext4img.Entry, []hostLink, error) {
	var entries []ext4img.Entry
	var links []hostLink
	seen := map[[2]uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		st := statOf(fi)
		if !fi.IsDir() && st.nlink > 1 {
			key := [2]uint64{st.dev, st.ino}
			if first, ok := seen[key]; ok {
				links = append(links, hostLink{Path: rel, Target: first})
				return nil
			}
			seen[key] = rel
		}
		e := ext4img.Entry{
			Path:    rel,
			Mode:    fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			UID:     st.uid,
			GID:     st.gid,
			ModTime: fi.ModTime(),
		}
		if fi.Mode()&fs.ModeIrregular != 0 {
			return fmt.Errorf("reading %s: unsupported file type %v", p, fi.Mode().Type())
		}
		if opts.Owner != nil {
			e.UID, e.GID = opts.Owner[0], opts.Owner[1]
		}
		if !opts.Clamp.IsZero() && e.ModTime.After(opts.Clamp) {
			e.ModTime = opts.Clamp
		}
		switch {
		case fi.Mode().IsRegular():
			e.Size = fi.Size()
			if e.Size > 0 {
				e.Content = func() (io.ReadCloser, error) { return os.Open(p) }
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Linkname, err = os.Readlink(p); err != nil {
				return fmt.Errorf("reading symlink %s: %w", p, err)
			}
		case fi.Mode()&fs.ModeDevice != 0:
			e.Devmajor, e.Devminor = st.major, st.minor
		}
		if e.Xattrs, err = readXattrs(p); err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return entries, links, nil
}
