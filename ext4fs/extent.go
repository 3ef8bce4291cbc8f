package ext4fs

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// extent maps length logical blocks from logical on to physical blocks
// from physical on; uninitialized extents read as zeros.
type extent struct {
	logical  uint32
	length   uint32
	physical uint64
	uninit   bool
}

// extents returns the leaf extents of in's tree in logical order, after
// checking every node: magic, entry counts, depth decreasing by one per
// level, block numbers inside the image, logical ranges increasing and not
// overlapping, checksums with metadata_csum, and at most f.maxExtents
// extents and nodes in all.
func (f *FS) extents(in *Inode) ([]extent, error) {
	if in.raw.Flags&ext4format.InodeFlagExtents == 0 {
		return nil, fmt.Errorf("inode %d: no extent tree (block-mapped files are not supported)", in.Ino)
	}
	w := extentWalk{f: f, in: in}
	root := in.raw.Block[:]
	h, err := parseExtentHeader(root)
	if err != nil {
		return nil, corrupt("inode %d: extent root: %v", in.Ino, err)
	}
	if err := w.node(root, h, 0, 0, 1<<32); err != nil {
		return nil, err
	}
	return w.out, nil
}

type extentWalk struct {
	f     *FS
	in    *Inode
	out   []extent
	nodes int
	next  uint64 // the first logical block the next extent may start at
	buf   [][]byte
}

// node walks one node whose entries must cover logical blocks in [lo, hi);
// blk is the node's block number (0 for the root in the inode).
func (w *extentWalk) node(b []byte, h ext4format.ExtentHeader, blk uint64, lo, hi uint64) error {
	where := func() string {
		if blk == 0 {
			return fmt.Sprintf("inode %d: extent root", w.in.Ino)
		}
		return fmt.Sprintf("inode %d: extent block %d", w.in.Ino, blk)
	}
	if w.nodes++; w.nodes > w.f.maxExtents {
		return corrupt("%s: more extent tree nodes than the image has blocks", where())
	}
	if h.Depth == 0 {
		for i := range int(h.Entries) {
			var e ext4format.Extent
			e.Unmarshal(b[ext4format.ExtentHeaderSize+ext4format.ExtentEntrySize*i:])
			x := extent{logical: e.Block, length: uint32(e.Len), physical: e.Start()}
			if x.length > ext4format.InitMaxLen {
				x.length -= ext4format.InitMaxLen
				x.uninit = true
			}
			end := uint64(x.logical) + uint64(x.length)
			switch {
			case x.length == 0:
				return corrupt("%s: extent %d is empty", where(), i)
			case uint64(x.logical) < w.next || uint64(x.logical) < lo || end > hi:
				return corrupt("%s: extent %d (logical %d+%d) overlaps another or lies outside [%d, %d)", where(), i, x.logical, x.length, max(lo, w.next), hi)
			case x.physical == 0 || x.physical+uint64(x.length) > w.f.blocks:
				return corrupt("%s: extent %d (blocks %d+%d) lies outside the %d-block image", where(), i, x.physical, x.length, w.f.blocks)
			case len(w.out) >= w.f.maxExtents:
				return corrupt("%s: more extents than the image has blocks", where())
			}
			w.next = end
			w.out = append(w.out, x)
		}
		return nil
	}
	for len(w.buf) < int(h.Depth) {
		w.buf = append(w.buf, make([]byte, w.f.bs))
	}
	child := w.buf[h.Depth-1]
	index := func(i int) ext4format.ExtentIdx {
		var e ext4format.ExtentIdx
		e.Unmarshal(b[ext4format.ExtentHeaderSize+ext4format.ExtentEntrySize*i:])
		return e
	}
	for i := range int(h.Entries) {
		e := index(i)
		start, leaf := uint64(e.Block), e.Leaf()
		end := hi
		if i+1 < int(h.Entries) {
			end = uint64(index(i + 1).Block)
		}
		if start < lo || start < w.next || end <= start || end > hi {
			return corrupt("%s: index %d (logical %d to %d) out of order or outside [%d, %d)", where(), i, start, end, lo, hi)
		}
		if err := w.f.readBlock(leaf, child); err != nil {
			return fmt.Errorf("%s: index %d: %w", where(), i, err)
		}
		ch, err := parseExtentHeader(child)
		if err != nil {
			return corrupt("inode %d: extent block %d: %v", w.in.Ino, leaf, err)
		}
		if ch.Depth != h.Depth-1 {
			return corrupt("inode %d: extent block %d has depth %d below a node of depth %d", w.in.Ino, leaf, ch.Depth, h.Depth)
		}
		if w.f.csum {
			off := ext4format.ExtentTailOffset(ch.Max)
			if off+ext4format.ExtentTailSize > len(child) {
				return corrupt("inode %d: extent block %d: no room for the checksum after %d entries", w.in.Ino, leaf, ch.Max)
			}
			if got, want := ext4format.CRC32c(w.f.inodeSeed(w.in.Ino, w.in.raw.Generation), child[:off]), binary.LittleEndian.Uint32(child[off:]); got != want {
				return corrupt("inode %d: extent block %d: checksum %#08x, computed %#08x", w.in.Ino, leaf, want, got)
			}
		}
		if err := w.node(child, ch, leaf, start, end); err != nil {
			return err
		}
	}
	return nil
}

// fileReader reads an inode's data through its extents: holes and
// uninitialized extents read as zeros, and nothing past size.
type fileReader struct {
	f    *FS
	ino  uint32
	ext  []extent
	size int64
	off  int64
}

func (f *FS) newFileReader(in *Inode) (*fileReader, error) {
	ext, err := f.extents(in)
	if err != nil {
		return nil, err
	}
	return &fileReader{f: f, ino: in.Ino, ext: ext, size: in.Size}, nil
}

// ReadAt implements io.ReaderAt.
func (r *fileReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("inode %d: negative offset %d", r.ino, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := r.size - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	bs := r.f.bs
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		lblk := uint64(pos / bs)
		// The first extent ending after lblk.
		i := sort.Search(len(r.ext), func(i int) bool {
			return uint64(r.ext[i].logical)+uint64(r.ext[i].length) > lblk
		})
		var chunk int64
		if i == len(r.ext) || uint64(r.ext[i].logical) > lblk {
			// A hole up to the next extent (or the end).
			holeEnd := r.size
			if i < len(r.ext) {
				holeEnd = min(holeEnd, int64(r.ext[i].logical)*bs)
			}
			chunk = min(int64(len(p)-n), holeEnd-pos)
			clear(p[n : n+int(chunk)])
		} else {
			x := r.ext[i]
			extEnd := (int64(x.logical) + int64(x.length)) * bs
			chunk = min(int64(len(p)-n), extEnd-pos)
			if x.uninit {
				clear(p[n : n+int(chunk)])
			} else {
				phys := int64(x.physical)*bs + pos - int64(x.logical)*bs
				if _, err := r.f.r.ReadAt(p[n:n+int(chunk)], phys); err != nil {
					return n, fmt.Errorf("inode %d: reading block %d: %w", r.ino, phys/bs, err)
				}
			}
		}
		n += int(chunk)
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// Read implements io.Reader.
func (r *fileReader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek implements io.Seeker.
func (r *fileReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.size
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if off < 0 {
		return 0, fmt.Errorf("seek: negative offset %d", off)
	}
	r.off = off
	return off, nil
}

// readSymlink returns a symlink's target: in i_block when shorter than 60
// bytes (a fast symlink), else in its one data block.
func (f *FS) readSymlink(in *Inode) (string, error) {
	switch {
	case in.Size == 0:
		return "", corrupt("inode %d: empty symlink", in.Ino)
	case in.Size >= f.bs:
		return "", corrupt("inode %d: symlink of %d bytes does not fit a %d-byte block", in.Ino, in.Size, f.bs)
	case in.Size < int64(len(in.raw.Block)) && in.raw.Flags&ext4format.InodeFlagExtents == 0:
		return string(in.raw.Block[:in.Size]), nil
	}
	r, err := f.newFileReader(in)
	if err != nil {
		return "", err
	}
	b := make([]byte, in.Size)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("inode %d: reading symlink target: %w", in.Ino, err)
	}
	return string(b), nil
}
