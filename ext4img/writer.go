// Package ext4img writes ext4 filesystem images from a tree of entries, in
// one pass and without root, mount, loop devices or mke2fs.
//
// Like archive/tar, a Writer is fed plain Entry values (Add, Link); unlike
// tar it writes nothing until the whole tree is known: Layout computes every
// inode number and block address first, and Write then streams the image
// in on-disk order, skipping zero blocks with Seek so the output is sparse.
// Given the same entries and Options, the image is byte for byte the same:
// nothing reads the clock or a random source, and the UUID and the directory
// hash seed are derived from a digest of the tree's metadata when not given.
//
// The image has 4 KiB (or 1 KiB) blocks, 256-byte inodes and the features
// filetype, extents, flex_bg, sparse_super, large_file, huge_file,
// dir_nlink, extra_isize, ext_attr and dir_index, plus a jbd2 journal
// (inode 8) unless Options.NoJournal, and resize_inode (inode 7) with
// reserved GDT blocks after the group descriptors when the image needs
// them to grow GrowthFactor times (ext4patch's Grow uses them). Inode numbers are 2 for the root, 11
// for lost+found (16 KiB, as mke2fs makes it), then the tree depth-first in
// name order. All block bitmaps, inode bitmaps and inode tables sit
// together after the primary group descriptors (flex_bg; an inode table
// that would cover a backup superblock moves past it, leaving a few free
// blocks); the journal, then each inode's xattr block, data and extent
// index blocks follow in inode order, a file's data contiguous except where
// a backup superblock interrupts it. Directories of three or more blocks
// are written as half_md4 hash trees (what e2fsck -fD would build), smaller
// ones as linear blocks of entries in name order.
//
// Sizing: with Options.Size zero the image is the smallest that holds the
// tree and the journal, plus HeadroomBlocks blocks available to the guest
// and HeadroomInodes free inodes (defaults DefaultHeadroomBytes and
// DefaultHeadroomInodes), so that a guest can boot read-write and start
// writing. Available means beyond what the kernel keeps back for itself
// (s_resv_clusters: min(2 % of the blocks, 4096)), which df leaves out, so
// the free block count is the headroom plus that reserve; since the
// reserve depends on the final size, it is part of the fixed point. The
// overhead (groups, descriptors, bitmaps, inode tables, backups, extent
// index blocks) is found by iterating the allocation to a fixed point.
// Groups have 8 × block size blocks, except in a tree bound by its inode
// count (many empty files, links or devices), which gets as many smaller
// groups as its inodes need instead of whole groups of free blocks. An
// explicit Size gets full groups and one inode per 16 KiB like mke2fs, or
// just what the tree needs when that does not fit.
//
// Memory: the Writer keeps about 110 bytes per entry (a 48-byte node per
// inode, each name once in its directory, no map by path; an entry with
// a Content func or a symlink target, device numbers or xattrs 48 more)
// and Layout 24 more per inode; contents are read only while writing,
// through a bounded read-ahead, and files read from Options.Files cost no
// opener or path each. So 1,000,000 entries from a walk need about 130 MB
// live, and a process that wants its peak RSS near that sets a Go memory
// limit (debug.SetMemoryLimit): the writer allocates little garbage per
// entry.
//
// Left out on purpose: 64bit and meta_bg (images stay below 16 TiB, and
// with 1 KiB blocks below 1.5 TiB, see maxBlocks), gdt_csum (metadata_csum
// is an option), a reserve for more than GrowthFactor times, inline_data, bigalloc, large_dir (so at most two htree levels), quota,
// encryption, casefolding, reserved root blocks (s_r_blocks_count is 0) and
// extended attribute values in inodes of their own (ea_inode): an inode's
// attributes live in the inode when they fit, otherwise all of them go to
// one block, shared by inodes with identical attributes.
package ext4img

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// Defaults for the free space of a right-sized image (Options.Size zero).
const (
	// DefaultHeadroomBytes available to the guest (df's "Available",
	// beyond the kernel's reserve): room to write logs, package database
	// updates and temporary files right after boot. The blocks cost no disk
	// space (they are holes in the sparse image) and 64 MiB keeps resize2fs
	// unnecessary for the common "apk add a few packages" case.
	DefaultHeadroomBytes = 64 << 20

	// DefaultHeadroomInodes free inodes: a content-sized image runs out of
	// inodes after a handful of new files; 4096 (1 MiB of inode table)
	// covers several package installs.
	DefaultHeadroomInodes = 4096
)

// Options control the image. The zero value gives a right-sized image with
// 4 KiB blocks and a journal.
type Options struct {
	// BlockSize is 4096 (the zero value) or 1024.
	BlockSize int

	// Size is the image size in bytes, rounded down to whole blocks (and,
	// like mke2fs, to the end of the previous group when the last group
	// would be too small for its backup superblock); zero sizes the image
	// to fit the tree plus headroom. Layout().Size() is the size written.
	Size int64

	// NoJournal leaves out the jbd2 journal.
	NoJournal bool

	// JournalBlocks is the journal size; zero uses mke2fs's
	// ext2fs_default_journal_size rule for the final block count (at least
	// 1024 blocks).
	JournalBlocks int

	// HeadroomBlocks and HeadroomInodes are the blocks available to the
	// guest and the free inodes added when right-sizing; zero means
	// DefaultHeadroomBytes worth of blocks and DefaultHeadroomInodes,
	// negative means none. Positive HeadroomBlocks get the kernel's
	// reserve on top (Layout.AvailableBlocks); none means none of that
	// either, a content-sized image.
	HeadroomBlocks int64
	HeadroomInodes int64

	// UUID and HashSeed are the filesystem UUID and the directory hash
	// seed; zero derives them from a digest of the tree (never zero on disk).
	UUID     [16]byte
	HashSeed [16]byte

	// MetadataCsum turns on metadata_csum: crc32c checksums on the
	// superblock, group descriptors, bitmaps, inodes, extent tree,
	// directory and xattr blocks (kernel 3.18+, e2fsprogs 1.43+).
	MetadataCsum bool

	// Label is the volume name, at most 16 bytes.
	Label string

	// Time stamps the filesystem (creation, last write, last check), the
	// journal inode, the root and lost+found unless added, and every entry
	// whose ModTime is zero; zero is the Unix epoch. The clock is never read.
	//
	// The rule for it: Time is clamped like entry times (ClampTime) and
	// is never before 1970, as superblock times are unsigned. Readers
	// compare the superblock's times with their own clock (e2fsck -f asks
	// "Superblock last write time is in the future. Fix?" for a time past
	// it, and the kernel only logs), so Time must not be later than the
	// moment the image is first checked or mounted: a caller should pass
	// SOURCE_DATE_EPOCH or its own clock, and not a file's mtime that may
	// lie in the future. The Writer cannot check that, having no clock.
	// SetTime changes it (discarding a computed layout).
	Time time.Time

	// Files holds the content of the regular files added with a Size but
	// no Content: Write opens each by its first name in depth-first name
	// order (clean as Add made it, but any bytes: not always the valid
	// UTF-8 fs.ValidPath asks for), checks that it is a regular file of
	// that Size (fs.File.Stat) and reads it like Content.
	// A tree walked from a directory needs no opener, and so no path, per
	// file kept until the write (a million files are a million closures
	// otherwise). Files must be safe for concurrent Opens.
	Files fs.FS
}

// fsTime is Time clamped (ClampTime) and no earlier than the Unix epoch;
// zero is the epoch.
func (o Options) fsTime() time.Time {
	if o.Time.IsZero() || o.Time.Before(time.Unix(0, 0)) {
		return time.Unix(0, 0)
	}
	t, _ := ClampTime(o.Time)
	return t
}

// Writer builds an ext4 image. Add and Link record entries; Layout and
// Write (or WriteFile) may be called once the tree is complete. Adding
// entries after Layout discards the computed layout. A Writer is not safe
// for concurrent use.
type Writer struct {
	opts   Options
	bs     int
	root   *node
	lost   *node
	inodes int // nodes, the root and lost+found included
	plan   *plan
	err    error // from NewWriter's options check, returned by every call

	// The directory of the last Add, as its path: a walk adds a
	// directory's entries one after the other.
	lastDir     string
	lastDirNode *node

	clampedTimes     int    // entries whose ModTime ClampTime changed
	firstClampedTime string // the first of them

	maxExtent uint32 // longest extent; 0 = ext4format.InitMaxLen (tests lower it to grow deep trees)
}

// NewWriter returns a Writer for opts. Invalid options (Options.Check)
// are reported by the first call of Add, Link, Layout or Write.
func NewWriter(opts Options) *Writer {
	w := &Writer{opts: opts, bs: opts.BlockSize, err: opts.Check()}
	if w.bs == 0 {
		w.bs = 4096
	}
	// No ModTime: Options.Time stands in, also when SetTime changes it.
	w.root = newNode(&Entry{Mode: fs.ModeDir | 0o755}, nil)
	w.root.dir().parent, w.root.ino = w.root, ext4format.RootIno
	w.lost = newNode(&Entry{Mode: fs.ModeDir | 0o700}, w.root)
	w.lost.ino = lostFoundIno
	w.root.dir().insert("lost+found", w.lost)
	w.root.nlink = 3
	w.inodes = 2
	return w
}

// Check reports what is wrong with the options, if anything: a caller
// that walks a big tree into a Writer checks them before the walk.
func (o Options) Check() error {
	switch {
	case o.BlockSize != 0 && o.BlockSize != 4096 && o.BlockSize != 1024:
		return fmt.Errorf("checking options: block size %d is not 1024 or 4096", o.BlockSize)
	case len(o.Label) > 16:
		return fmt.Errorf("checking options: label %q is longer than 16 bytes", o.Label)
	case o.Size < 0:
		return fmt.Errorf("checking options: negative size %d", o.Size)
	case o.JournalBlocks < 0:
		return fmt.Errorf("checking options: negative journal size %d", o.JournalBlocks)
	case o.JournalBlocks > 0 && o.JournalBlocks < ext4format.MinJournalBlocks:
		return fmt.Errorf("checking options: journal of %d blocks is below the minimum of %d", o.JournalBlocks, ext4format.MinJournalBlocks)
	}
	return nil
}

// SetTime sets Options.Time, for a caller that learns the filesystem's
// time from the tree it adds (its newest mtime, say). It discards a
// computed layout.
func (w *Writer) SetTime(t time.Time) {
	w.opts.Time = t
	w.plan = nil
}

// cleanPath checks a slash-separated relative path and returns it without
// a leading "./" or trailing slash; "" is the root.
func cleanPath(p string) (string, error) {
	p = strings.TrimPrefix(p, "./")
	p = strings.TrimSuffix(p, "/")
	if p == "." || p == "" {
		return "", nil
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q is absolute", p)
	}
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "" || c == ".":
			return "", fmt.Errorf("path %q has an empty or \".\" component", p)
		case c == "..":
			return "", fmt.Errorf("path %q has a \"..\" component", p)
		case len(c) > ext4format.MaxNameLen:
			return "", fmt.Errorf("path %q has a name of %d bytes (maximum %d)", p, len(c), ext4format.MaxNameLen)
		case strings.IndexByte(c, 0) >= 0:
			return "", fmt.Errorf("path %q has a NUL byte", p)
		}
	}
	return p, nil
}

// parentOf returns the directory node that will hold p and p's last
// name.
func (w *Writer) parentOf(p string) (*node, string, error) {
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if w.lastDirNode != nil && dir == w.lastDir {
		return w.lastDirNode, name, nil
	}
	d := w.root
	for rest := dir; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		n := d.dir().lookup(c)
		if n == nil {
			return nil, "", fmt.Errorf("parent directory %q of %q does not exist", dir, p)
		}
		if n.dir() == nil {
			// Named as p names it: n.path may find another name (a hard link).
			below := strings.TrimSuffix(dir[:len(dir)-len(rest)], "/")
			return nil, "", fmt.Errorf("%q is below %q, which is not a directory", p, below)
		}
		d = n
	}
	w.lastDir, w.lastDirNode = dir, d
	return d, name, nil
}

// lookup returns the node at clean path p, or nil.
func (w *Writer) lookup(p string) *node {
	if p == "" {
		return w.root
	}
	d, name, err := w.parentOf(p)
	if err != nil {
		return nil
	}
	return d.dir().lookup(name)
}

// Add records one entry. Its parent directory must have been added before
// (the root always exists; adding "" or "." sets the root's attributes, and
// adding a directory "lost+found" sets that of the one the image always has).
// Add copies what it needs; Content is called later, by Write.
func (w *Writer) Add(e Entry) error {
	if w.err != nil {
		return w.err
	}
	p, err := cleanPath(e.Path)
	if err != nil {
		return fmt.Errorf("adding %q: %w", e.Path, err)
	}
	e.Path = p
	if err := w.checkEntry(&e); err != nil {
		return fmt.Errorf("adding %q: %w", e.Path, err)
	}
	w.plan = nil
	if e.Xattrs != nil {
		x := make(map[string][]byte, len(e.Xattrs))
		for k, v := range e.Xattrs {
			x[k] = append([]byte(nil), v...)
		}
		e.Xattrs = x
	}
	if p == "" || p == "lost+found" {
		n := w.root
		if p != "" {
			n = w.lost
		}
		if !e.Mode.IsDir() {
			return fmt.Errorf("adding %q: it must be a directory", p)
		}
		n.set(&e)
		w.noteTime(p, e.ModTime)
		return nil
	}
	parent, name, err := w.parentOf(p)
	if err != nil {
		return fmt.Errorf("adding %q: %w", p, err)
	}
	if parent.dir().lookup(name) != nil {
		return fmt.Errorf("adding %q: path already exists", p)
	}
	n := newNode(&e, parent)
	if n.dir() != nil {
		parent.nlink++
	}
	parent.dir().insert(strings.Clone(name), n) // not a slice of the caller's path
	w.inodes++
	w.noteTime(p, e.ModTime)
	return nil
}

// noteTime counts an added entry's ModTime that ClampTime changes.
func (w *Writer) noteTime(p string, t time.Time) {
	if t.IsZero() {
		return // Options.Time stands in
	}
	if _, clamped := ClampTime(t); clamped {
		if w.clampedTimes == 0 {
			w.firstClampedTime = cmp.Or(p, ".")
		}
		w.clampedTimes++
	}
}

// checkEntry validates e's type and type-specific fields.
func (w *Writer) checkEntry(e *Entry) error {
	switch e.Mode.Type() {
	case 0:
		if e.Size < 0 {
			return fmt.Errorf("negative size %d", e.Size)
		}
		if e.Size > 0 && e.Content == nil && w.opts.Files == nil {
			return fmt.Errorf("size %d but no content (and no Options.Files)", e.Size)
		}
	case fs.ModeDir, fs.ModeNamedPipe, fs.ModeSocket:
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		if e.Devmajor >= 1<<12 || e.Devminor >= 1<<20 {
			return fmt.Errorf("device number %d:%d does not fit 12:20 bits", e.Devmajor, e.Devminor)
		}
	case fs.ModeSymlink:
		limit := maxSymlinkLen
		if w.bs-1 < limit {
			limit = w.bs - 1 // a slow symlink is one block with a NUL after the target
		}
		if e.Linkname == "" {
			return fmt.Errorf("empty symlink target")
		}
		if len(e.Linkname) > limit {
			return fmt.Errorf("symlink target of %d bytes (maximum %d with %d-byte blocks)", len(e.Linkname), limit, w.bs)
		}
	default:
		return fmt.Errorf("unsupported file type %v", e.Mode.Type())
	}
	return checkXattrs(e.Xattrs, w.bs)
}

// Link records a hard link, as os.Link: newname becomes another name of
// oldname, which must have been added before and must not be a directory.
func (w *Writer) Link(oldname, newname string) error {
	if w.err != nil {
		return w.err
	}
	cp, err := cleanPath(newname)
	if err != nil {
		return fmt.Errorf("linking %q: %w", newname, err)
	}
	ct, err := cleanPath(oldname)
	if err != nil {
		return fmt.Errorf("linking %q to %q: %w", newname, oldname, err)
	}
	t := w.lookup(ct)
	switch {
	case t == nil:
		return fmt.Errorf("linking %q to %q: target does not exist", cp, ct)
	case t.dir() != nil:
		return fmt.Errorf("linking %q to %q: target is a directory", cp, ct)
	case t.nlink >= ext4format.LinkMax:
		return fmt.Errorf("linking %q to %q: target has %d links already", cp, ct, t.nlink)
	}
	if cp == "" {
		return fmt.Errorf("linking %q to %q: path is the root", cp, ct)
	}
	parent, name, err := w.parentOf(cp)
	if err != nil {
		return fmt.Errorf("linking %q to %q: %w", cp, ct, err)
	}
	if parent.dir().lookup(name) != nil {
		return fmt.Errorf("linking %q to %q: path already exists", cp, ct)
	}
	w.plan = nil
	t.nlink++
	parent.dir().insert(strings.Clone(name), t)
	return nil
}
