package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
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

// walkHostTree reads the host directory dir into entries in sorted order
// (lstat; symbolic links are recorded, never followed) and hard links by
// (device, inode). Regular files are opened only when the image writer
// asks for their content, so the tree is never held in memory. The root
// directory's own attributes become the entry with Path "".
//
// It lists the names first (readdir only), then lstats them and reads
// their xattrs and link targets on several goroutines (one system call
// round trip per path is most of the cost), then assembles the entries in
// order, so the result and the first error reported do not depend on
// scheduling.
func walkHostTree(dir string, opts hostTreeOptions) ([]ext4img.Entry, []hostLink, error) {
	rels := []string{""}
	if err := listHostTree(dir, "", &rels); err != nil {
		return nil, nil, err
	}
	infos := make([]hostInfo, len(rels))
	var wg sync.WaitGroup
	var next atomic.Int64
	for range runtime.GOMAXPROCS(0) * 2 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rels) {
					return
				}
				infos[i] = readHostInfo(filepath.Join(dir, filepath.FromSlash(rels[i])))
			}
		})
	}
	wg.Wait()

	var entries []ext4img.Entry
	var links []hostLink
	seen := map[[2]uint64]string{}
	for i, rel := range rels {
		info := &infos[i]
		if info.err != nil {
			return nil, nil, info.err
		}
		fi, st := info.fi, info.st
		if !fi.IsDir() && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := seen[key]; ok {
				links = append(links, hostLink{Path: rel, Target: first})
				continue
			}
			seen[key] = rel
		}
		p := info.path
		if fi.Mode()&fs.ModeIrregular != 0 {
			return nil, nil, fmt.Errorf("reading %s: unsupported file type %v", p, fi.Mode().Type())
		}
		e := ext4img.Entry{
			Path:     rel,
			Mode:     fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			UID:      st.UID,
			GID:      st.GID,
			ModTime:  fi.ModTime(),
			Linkname: info.linkname,
			Xattrs:   info.xattrs,
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
				e.Content = func() (io.ReadCloser, error) { return openHostFile(p) }
			}
		case fi.Mode()&fs.ModeDevice != 0:
			e.Devmajor, e.Devminor = st.Major, st.Minor
		}
		entries = append(entries, e)
	}
	return entries, links, nil
}

// listHostTree appends the slash-separated paths below dir/rel to rels,
// depth first in name order (the order of filepath.WalkDir).
func listHostTree(dir, rel string, rels *[]string) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	des, err := os.ReadDir(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	for _, de := range des {
		child := path.Join(rel, de.Name())
		*rels = append(*rels, child)
		if de.IsDir() {
			if err := listHostTree(dir, child, rels); err != nil {
				return err
			}
		}
	}
	return nil
}

// hostInfo is what walkHostTree learns of one host path.
type hostInfo struct {
	path     string
	fi       fs.FileInfo
	st       hostfs.Stat
	linkname string
	xattrs   map[string][]byte
	err      error
}

func readHostInfo(p string) hostInfo {
	info := hostInfo{path: p}
	fi, err := os.Lstat(p)
	if err != nil {
		info.err = fmt.Errorf("reading %s: %w", p, err)
		return info
	}
	info.fi, info.st = fi, hostfs.StatOf(fi)
	if fi.Mode()&fs.ModeSymlink != 0 {
		if info.linkname, err = os.Readlink(p); err != nil {
			info.err = fmt.Errorf("reading symlink %s: %w", p, err)
			return info
		}
	}
	info.xattrs, info.err = hostfs.Xattrs(p)
	return info
}
