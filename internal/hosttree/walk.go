// Package hosttree reads a directory of the host into an ext4 image
// writer, as `rootfs-synth mkfs` does (the `mke2fs -d` of people without
// e2fsprogs): Walk lists the tree depth first in name order, lstats it
// (symbolic links are recorded, never followed) with owners, modes,
// nanosecond mtimes, xattrs, hard links and device numbers, and hands each
// entry to a Sink as it goes, holding only the batches in flight; the
// writer then reads the regular files' contents through Dir.Files when it
// writes them. NewWriter does both for an ext4img.Writer. What the host
// reports beyond fs.FileInfo comes from internal/hostfs.
//
// Paths longer than the system's PATH_MAX (maxPath) are read relative to
// directory descriptors, so depth is unlimited. A file changed between
// the walk and the write (another size, gone, now a FIFO, a directory or
// a symlink) is an error naming it, never a hang; one replaced by another
// of the same size is read as it is then, as mke2fs -d would.
//
// Left out on purpose: sockets and other irregular files (an error), and
// any printing: Summary says what a command may warn about (entries of
// other users, mtimes after the build started).
package hosttree

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
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
)

// Options change what Walk records. The zero value keeps the host's
// owners and mtimes and counts every entry not owned by root as foreign.
type Options struct {
	// Owner, when set, replaces every uid and gid.
	Owner *[2]uint32
	// Clamp, when not zero, caps every mtime (SOURCE_DATE_EPOCH).
	Clamp time.Time
	// UID is the user running the walk: entries owned by another one are
	// counted in Summary.Foreign. Negative: count none.
	UID int
	// Now is when the build started: entries with a later mtime are
	// counted in Summary.Future.
	Now time.Time
}

// Sink takes the entries of a walk, in order; an *ext4img.Writer is
// one, so a walk goes into the image without a tree of its own between.
type Sink interface {
	Add(e ext4img.Entry) error
	Link(oldname, newname string) error
}

// Summary is what Walk saw besides the entries.
type Summary struct {
	Entries int // names added, hard links included
	// Foreign counts the entries whose host owner is not Options.UID;
	// FirstForeign is the first of them.
	Foreign      int
	FirstForeign string
	// Newest is the newest mtime, in whole seconds, of the inodes added
	// (after Clamp); Future counts those after Options.Now, FirstFuture
	// and FirstFutureTime are the first of them.
	Newest          time.Time
	Future          int
	FirstFuture     string
	FirstFutureTime time.Time
}

// Dir reads the paths below one host directory. A path whose full
// name fits the system's limit (maxPath) is read by that name, one system
// call each, as fast as it gets; a longer one (a tree deeper than PATH_MAX,
// which mke2fs -d copies too) is read relative to the directory's os.Root,
// which opens it component by component, so depth is unlimited.
type Dir struct {
	path string
	root *os.Root
}

// Open opens the host directory dir for Walk.
func Open(dir string) (*Dir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return &Dir{path: filepath.Clean(dir), root: r}, nil
}

// Close closes the directory; no entry's Content may be opened after it.
func (d *Dir) Close() error { return d.root.Close() }

// full returns the host path of the slash-separated rel, and whether it
// is short enough to be used as it is.
func (d *Dir) full(rel string) (string, bool) {
	// Joined by hand: rel is clean already, and filepath.Join's cleaning
	// was a few percent of a walk of small files, three times per file.
	p := d.path
	if rel != "" {
		p = strings.TrimSuffix(p, string(filepath.Separator)) + string(filepath.Separator) + filepath.FromSlash(rel)
	}
	return p, len(p) < maxPath
}

// rootRel is rel as os.Root names it.
func rootRel(rel string) string {
	if rel == "" {
		return "."
	}
	return filepath.FromSlash(rel)
}

// dirName is one name of a directory listing.
type dirName struct {
	name string
	dir  bool
}

// readDir lists the directory rel, sorted by name. It keeps only the
// names and which are directories, reading the listing in chunks, so a
// directory of a million entries costs tens of MB, not a DirEntry each.
func (d *Dir) readDir(rel string) ([]dirName, error) {
	var f *os.File
	var err error
	if p, short := d.full(rel); short {
		f, err = os.Open(p)
	} else {
		f, err = d.root.Open(rootRel(rel))
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []dirName
	for {
		des, err := f.ReadDir(1024)
		for _, de := range des {
			names = append(names, dirName{de.Name(), de.IsDir()})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(names, func(a, b dirName) int { return strings.Compare(a.name, b.name) })
	return names, nil
}

// hostPath is a path below a Dir, named both ways.
type hostPath struct {
	rel   string // slash-separated, relative to the Dir
	full  string // the host's name for it
	short bool   // full fits maxPath
}

func (d *Dir) at(rel string) hostPath {
	full, short := d.full(rel)
	return hostPath{rel: rel, full: full, short: short}
}

func (d *Dir) lstat(hp hostPath) (fs.FileInfo, error) {
	if hp.short {
		return os.Lstat(hp.full)
	}
	return d.root.Lstat(rootRel(hp.rel))
}

func (d *Dir) readlink(hp hostPath) (string, error) {
	if hp.short {
		return os.Readlink(hp.full)
	}
	return d.root.Readlink(rootRel(hp.rel))
}

// Walk reads the host directory d into sink, depth first in name
// order (lstat; symbolic links are recorded, never followed), with hard
// links by (device, inode). Regular files get a Size but no Content: the
// image writer opens them later through Dir.Files, so neither their
// contents nor an opener per file are held in memory. The root
// directory's own attributes become the entry with Path "".
//
// The walk is a pipeline, so that what it holds does not grow with the
// tree: one goroutine lists the names (readdir only) in batches, several
// lstat them and read their xattrs and link targets (one system call
// round trip per path is most of the cost), and this one hands the
// entries to sink in order, so the result and the first error reported
// do not depend on scheduling. It stops early when ctx is done.
func Walk(ctx context.Context, d *Dir, opts Options, sink Sink) (*Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	workers := runtime.GOMAXPROCS(0) * 2
	todo := make(chan *hostBatch, 2*workers)    // to the stat workers
	ordered := make(chan *hostBatch, 4*workers) // to the sink, in order
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for range ordered {
		}
		wg.Wait()
	}()
	wg.Go(func() { listHostTree(ctx, d, todo, ordered) })
	for range workers {
		wg.Go(func() {
			for b := range todo {
				for i, rel := range b.rels {
					if ctx.Err() == nil {
						b.infos[i] = readHostInfo(d, rel)
					}
				}
				close(b.done)
			}
		})
	}

	t := &Summary{}
	seen := map[[2]uint64]string{}
	for b := range ordered {
		<-b.done
		if ctx.Err() != nil {
			break // b's paths may not have been read
		}
		for i, rel := range b.rels {
			if err := t.add(sink, d, rel, &b.infos[i], opts, seen); err != nil {
				return nil, err
			}
		}
		if b.err != nil {
			return nil, b.err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.path, context.Cause(ctx))
	}
	return t, nil
}

// add gives sink the entry rel, of which info is the lstat; seen holds
// the first name of each hard-linked inode.
func (t *Summary) add(sink Sink, d *Dir, rel string, info *hostInfo, opts Options, seen map[[2]uint64]string) error {
	if info.err != nil {
		return info.err
	}
	fi, st := info.fi, info.st
	t.Entries++
	if opts.UID >= 0 && st.UID != uint32(opts.UID) {
		if t.Foreign == 0 {
			t.FirstForeign = "/" + rel
		}
		t.Foreign++
	}
	if !fi.IsDir() && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := seen[key]; ok {
			if err := sink.Link(first, rel); err != nil {
				return fmt.Errorf("reading %s: %w", d.at(rel).full, err)
			}
			return nil
		}
		seen[key] = rel
	}
	if fi.Mode()&fs.ModeIrregular != 0 {
		return fmt.Errorf("reading %s: unsupported file type %v", d.at(rel).full, fi.Mode().Type())
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
	case fi.Mode()&fs.ModeDevice != 0:
		e.Devmajor, e.Devminor = st.Major, st.Minor
	}
	sec := e.ModTime.Truncate(time.Second)
	if sec.After(t.Newest) {
		t.Newest = sec
	}
	if !opts.Now.IsZero() && sec.After(opts.Now) {
		if t.Future == 0 {
			t.FirstFuture, t.FirstFutureTime = "/"+rel, e.ModTime
		}
		t.Future++
	}
	if err := sink.Add(e); err != nil {
		return fmt.Errorf("reading %s: %w", d.at(rel).full, err)
	}
	return nil
}

// hostBatch is a run of paths of the walk, in order, and their lstats
// once done is closed; err, when set, ends the walk after them.
type hostBatch struct {
	rels  []string
	infos []hostInfo
	done  chan struct{}
	err   error
}

// hostBatchLen is the number of paths in a batch: enough to keep a
// goroutine busy for a while, few enough that the batches in flight hold
// little.
const hostBatchLen = 256

// listHostTree sends the paths of the tree, from the root "" on, depth
// first in name order (the order of filepath.WalkDir), in batches to todo
// and ordered, then closes both; a directory it cannot read ends the walk
// with an error in the last batch.
func listHostTree(ctx context.Context, d *Dir, todo, ordered chan<- *hostBatch) {
	defer close(ordered)
	defer close(todo)
	b := &hostBatch{done: make(chan struct{})}
	flush := func() bool {
		b.infos = make([]hostInfo, len(b.rels))
		select {
		case ordered <- b:
		case <-ctx.Done():
			return false
		}
		select {
		case todo <- b:
		case <-ctx.Done():
			close(b.done)
			return false
		}
		b = &hostBatch{done: make(chan struct{})}
		return true
	}
	emit := func(rel string) bool {
		b.rels = append(b.rels, rel)
		return len(b.rels) < hostBatchLen || flush()
	}
	var list func(rel string) (bool, error)
	list = func(rel string) (bool, error) {
		names, err := d.readDir(rel)
		if err != nil {
			p, _ := d.full(rel)
			return false, fmt.Errorf("reading %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return false, nil
		}
		for _, de := range names {
			child := path.Join(rel, de.name)
			if !emit(child) {
				return false, nil
			}
			if de.dir {
				if ok, err := list(child); !ok {
					return false, err
				}
			}
		}
		return true, nil
	}
	if !emit("") {
		return
	}
	ok, err := list("")
	if !ok && err == nil {
		return // ctx is done, and b may have gone to ordered already
	}
	b.err = err
	if len(b.rels) > 0 || b.err != nil {
		flush()
	}
}

// Files is the fs.FS through which an image writer reads the regular
// files of a walk of d (ext4img.Options.Files): its Open reopens them, so
// a path swapped since the walk is an error, not a hang, and its reads
// stop once ctx is done. The writer checks that the size is still the one
// walked.
func (d *Dir) Files(ctx context.Context) fs.FS { return files{ctx: ctx, d: d} }

// NewWriter walks d into a new image Writer for opts, which reads the
// files' contents from d when it writes them (see Files).
func NewWriter(ctx context.Context, d *Dir, tree Options, opts ext4img.Options) (*ext4img.Writer, *Summary, error) {
	opts.Files = d.Files(ctx)
	w := ext4img.NewWriter(opts)
	t, err := Walk(ctx, d, tree, w)
	if err != nil {
		return nil, nil, err
	}
	return w, t, nil
}

// files is what Files returns.
type files struct {
	ctx context.Context
	d   *Dir
}

func (h files) Open(name string) (fs.File, error) {
	if !validHostName(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	rel := name
	if rel == "." {
		rel = ""
	}
	f, err := h.d.open(h.ctx, rel)
	if err != nil {
		return nil, err // not a nil *hostFile in a non-nil fs.File
	}
	return f, nil
}

// validHostName is fs.ValidPath without its rule that names be UTF-8: a
// host file's name is any bytes but NUL and '/', and the walk added it as
// it is.
func validHostName(name string) bool {
	if name == "." {
		return true
	}
	for elem := range strings.SplitSeq(name, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
	}
	return true
}

// notRegular is the error for a path that was a regular file in the walk
// and is something else when the writer opens it.
func notRegular(p string, mode fs.FileMode) error {
	return fmt.Errorf("%s changed since it was read: no longer a regular file (%v)", p, mode.Type())
}

// hostInfo is what Walk learns of one host path. It keeps what
// an entry needs of the lstat, not the fs.FileInfo (an os.fileStat with
// its syscall.Stat_t is several times larger, and the batches in flight
// hold thousands).
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

func readHostInfo(d *Dir, rel string) hostInfo {
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
