package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// hostTreeOptions change what walkHostTree records.
type hostTreeOptions struct {
	// Owner, when set, replaces every uid and gid.
	Owner *[2]uint32
	// Clamp, when not zero, caps every mtime (SOURCE_DATE_EPOCH).
	Clamp time.Time
	// UID is the user running the walk: entries owned by another one are
	// counted in hostTree.Foreign. Negative: count none.
	UID int
}

// hostTree is what walkHostTree read.
type hostTree struct {
	*rootfs.Tree
	// Foreign counts the entries whose host owner is not Options.UID;
	// FirstForeign is the first of them.
	Foreign      int
	FirstForeign string
}

// hostDir reads the paths below one host directory. A path whose full
// name fits the system's limit (maxPath) is read by that name, one system
// call each, as fast as it gets; a longer one (a tree deeper than PATH_MAX,
// which mke2fs -d copies too) is read relative to the directory's os.Root,
// which opens it component by component, so depth is unlimited.
type hostDir struct {
	path string
	root *os.Root
}

func openHostDir(dir string) (*hostDir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return &hostDir{path: dir, root: r}, nil
}

// Close closes the directory; no entry's Content may be opened after it.
func (d *hostDir) Close() error { return d.root.Close() }

// full returns the host path of the slash-separated rel, and whether it
// is short enough to be used as it is.
func (d *hostDir) full(rel string) (string, bool) {
	p := filepath.Join(d.path, filepath.FromSlash(rel))
	return p, len(p) < maxPath
}

// rootRel is rel as os.Root names it.
func rootRel(rel string) string {
	if rel == "" {
		return "."
	}
	return filepath.FromSlash(rel)
}

func (d *hostDir) readDir(rel string) ([]fs.DirEntry, error) {
	if p, short := d.full(rel); short {
		return os.ReadDir(p)
	}
	f, err := d.root.Open(rootRel(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	slices.SortFunc(des, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return des, err
}

// hostPath is a path below a hostDir, named both ways.
type hostPath struct {
	rel   string // slash-separated, relative to the hostDir
	full  string // the host's name for it
	short bool   // full fits maxPath
}

func (d *hostDir) at(rel string) hostPath {
	full, short := d.full(rel)
	return hostPath{rel: rel, full: full, short: short}
}

func (d *hostDir) lstat(hp hostPath) (fs.FileInfo, error) {
	if hp.short {
		return os.Lstat(hp.full)
	}
	return d.root.Lstat(rootRel(hp.rel))
}

func (d *hostDir) readlink(hp hostPath) (string, error) {
	if hp.short {
		return os.Readlink(hp.full)
	}
	return d.root.Readlink(rootRel(hp.rel))
}

// walkHostTree reads the host directory d into entries in sorted order
// (lstat; symbolic links are recorded, never followed) and hard links by
// (device, inode). Regular files are opened only when the image writer
// asks for their content, so the tree is never held in memory; each is
// checked then to be the file the walk saw. The root directory's own
// attributes become the entry with Path "".
//
// It lists the names first (readdir only), then lstats them and reads
// their xattrs and link targets on several goroutines (one system call
// round trip per path is most of the cost), then assembles the entries in
// order, so the result and the first error reported do not depend on
// scheduling. It stops early when ctx is done; Content then fails too.
func walkHostTree(ctx context.Context, d *hostDir, opts hostTreeOptions) (*hostTree, error) {
	rels := []string{""}
	if err := listHostTree(ctx, d, "", &rels); err != nil {
		return nil, err
	}
	infos := make([]hostInfo, len(rels))
	var wg sync.WaitGroup
	var next atomic.Int64
	for range runtime.GOMAXPROCS(0) * 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(rels) {
					return
				}
				infos[i] = readHostInfo(d, rels[i])
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.path, context.Cause(ctx))
	}

	t := &hostTree{Tree: rootfs.New(time.Time{})}
	seen := map[[2]uint64]string{}
	for i, rel := range rels {
		info := &infos[i]
		if info.err != nil {
			return nil, info.err
		}
		fi, st := info.fi, info.st
		if opts.UID >= 0 && st.UID != uint32(opts.UID) {
			if t.Foreign == 0 {
				t.FirstForeign = "/" + rel
			}
			t.Foreign++
		}
		if !fi.IsDir() && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := seen[key]; ok {
				if err := t.Link(rel, first); err != nil {
					return nil, fmt.Errorf("reading %s: %w", d.at(rel).full, err)
				}
				continue
			}
			seen[key] = rel
		}
		if fi.Mode()&fs.ModeIrregular != 0 {
			return nil, fmt.Errorf("reading %s: unsupported file type %v", d.at(rel).full, fi.Mode().Type())
		}
		e := &rootfs.Node{
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
				id := fileID{dev: st.Dev, ino: st.Ino, size: e.Size}
				e.Content = func() (io.ReadCloser, error) { return d.open(ctx, rel, id) }
			}
		case fi.Mode()&fs.ModeDevice != 0:
			e.Devmajor, e.Devminor = st.Major, st.Minor
		}
		if rel == "" {
			*t.Root() = *e
			continue
		}
		if err := t.Add(rel, e); err != nil {
			return nil, fmt.Errorf("reading %s: %w", d.at(rel).full, err)
		}
	}
	return t, nil
}

// listHostTree appends the slash-separated paths below rel to rels,
// depth first in name order (the order of filepath.WalkDir).
func listHostTree(ctx context.Context, d *hostDir, rel string, rels *[]string) error {
	des, err := d.readDir(rel)
	if err != nil {
		p, _ := d.full(rel)
		return fmt.Errorf("reading %s: %w", p, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", d.path, context.Cause(ctx))
	}
	for _, de := range des {
		child := path.Join(rel, de.Name())
		*rels = append(*rels, child)
		if de.IsDir() {
			if err := listHostTree(ctx, d, child, rels); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileID is what the walk saw of a regular file, for open to check that
// it still opens that file (kept small: one per file of the tree).
type fileID struct {
	dev, ino uint64
	size     int64
}

// check reports how the opened file p (regular or not, its device, inode
// and size) differs from id.
func (id fileID) check(p string, regular bool, dev, ino uint64, size int64) error {
	switch {
	case !regular:
		return fmt.Errorf("%s changed since it was read: no longer a regular file", p)
	case dev != id.dev || ino != id.ino:
		return fmt.Errorf("%s changed since it was read: another file (inode %d, was %d)", p, ino, id.ino)
	case size != id.size:
		return fmt.Errorf("%s changed since it was read: %d bytes, was %d", p, size, id.size)
	}
	return nil
}

// hostInfo is what walkHostTree learns of one host path.
// It keeps what the tree needs of the lstat, not the fs.FileInfo (an
// os.fileStat with its syscall.Stat_t is several times larger, and a
// million-entry tree holds one per entry until it is assembled).
type hostInfo struct {
	fi       statInfo
	st       hostfs.Stat
	linkname string
	xattrs   map[string][]byte
	err      error
}

// statInfo is the part of an lstat's fs.FileInfo a tree entry uses.
type statInfo struct {
	mode  fs.FileMode
	size  int64
	mtime time.Time
}

func (s statInfo) IsDir() bool        { return s.mode.IsDir() }
func (s statInfo) Mode() fs.FileMode  { return s.mode }
func (s statInfo) Size() int64        { return s.size }
func (s statInfo) ModTime() time.Time { return s.mtime }

func readHostInfo(d *hostDir, rel string) hostInfo {
	var info hostInfo
	hp := d.at(rel)
	fi, err := d.lstat(hp)
	if err != nil {
		info.err = fmt.Errorf("reading %s: %w", hp.full, err)
		return info
	}
	info.fi, info.st = statInfo{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime()}, hostfs.StatOf(fi)
	if fi.Mode()&fs.ModeSymlink != 0 {
		if info.linkname, err = d.readlink(hp); err != nil {
			info.err = fmt.Errorf("reading symlink %s: %w", hp.full, err)
			return info
		}
	}
	info.xattrs, info.err = d.xattrs(hp)
	return info
}
