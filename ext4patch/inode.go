package ext4patch

import (
	"fmt"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// inodeAt is where inode ino lies: its inode-table block and the offset
// in it.
func (im *Image) inodeAt(ino uint32) (uint64, int, error) {
	if ino == 0 || ino > im.sb.InodesCount {
		return 0, 0, fmt.Errorf("inode %d does not exist", ino)
	}
	g, idx := (ino-1)/im.ipg, uint64((ino-1)%im.ipg)
	if int(g) >= len(im.descs) {
		return 0, 0, fmt.Errorf("inode %d lies past the %d groups", ino, len(im.descs))
	}
	off := idx * uint64(im.inodeSize)
	return im.descs[g].InodeTable() + off/uint64(im.bs), int(off % uint64(im.bs)), nil
}

// inode reads inode ino as staged: decoded, and its raw bytes (a copy).
func (im *Image) inode(ino uint32) (*ext4format.Inode, []byte, error) {
	nr, off, err := im.inodeAt(ino)
	if err != nil {
		return nil, nil, err
	}
	b, err := im.read(nr)
	if err != nil {
		return nil, nil, err
	}
	raw := append([]byte(nil), b[off:off+im.inodeSize]...)
	n := new(ext4format.Inode)
	n.Unmarshal(raw)
	return n, raw, nil
}

// putInode encodes n over raw (keeping the in-inode xattrs after it),
// with its checksum, and stages it as inode ino.
func (im *Image) putInode(ino uint32, n *ext4format.Inode, raw []byte) error {
	nr, off, err := im.inodeAt(ino)
	if err != nil {
		return err
	}
	n.Marshal(raw)
	if im.csum {
		n.SetChecksum(ext4format.InodeChecksum(im.inodeSeed(ino, n.Generation), raw))
		n.Marshal(raw)
	}
	b, err := im.stage(nr)
	if err != nil {
		return err
	}
	copy(b[off:], raw)
	return nil
}

func (im *Image) inodeSeed(ino, gen uint32) uint32 { return ext4format.InodeSeed(im.seed, ino, gen) }

// setTimes sets the inode's mtime and the other times as asked.
func setTimes(n *ext4format.Inode, mtime, ctime time.Time, created bool) {
	n.Mtime, n.MtimeExtra = ext4format.EncodeTime(mtime)
	n.Ctime, n.CtimeExtra = ext4format.EncodeTime(ctime)
	if created {
		n.Atime, n.AtimeExtra = n.Mtime, n.MtimeExtra
		n.Crtime, n.CrtimeExtra = n.Ctime, n.CtimeExtra
	}
}

// extent maps len logical blocks from logical on to phys.
type extent struct {
	logical uint32
	len     uint32
	phys    uint64
}

// extents returns the leaf extents of an inode's tree, in logical order,
// and the tree's own blocks.
func (im *Image) extents(ino uint32, n *ext4format.Inode) ([]extent, []uint64, error) {
	if n.Flags&ext4format.InodeFlagExtents == 0 {
		return nil, nil, fmt.Errorf("inode %d has no extent tree (block-mapped files are not supported)", ino)
	}
	var out []extent
	var tree []uint64
	// A hostile tree may point many index entries at one node, overlap
	// extents or map more than the filesystem: each node is visited once,
	// logical starts must rise, and the mapped total stays within the
	// filesystem, so the walk is bounded by the image's blocks.
	visited := map[uint64]bool{}
	next, mapped := uint64(0), uint64(0)
	var walk func(b []byte, depth int) error
	walk = func(b []byte, depth int) error {
		var h ext4format.ExtentHeader
		h.Unmarshal(b)
		if h.Magic != ext4format.ExtentMagic || int(h.Entries) > (len(b)-ext4format.ExtentHeaderSize)/ext4format.ExtentEntrySize || int(h.Depth) != depth {
			return fmt.Errorf("inode %d: corrupt extent tree node", ino)
		}
		for i := range int(h.Entries) {
			e := b[ext4format.ExtentHeaderSize+ext4format.ExtentEntrySize*i:]
			if h.Depth == 0 {
				var x ext4format.Extent
				x.Unmarshal(e)
				l := uint32(x.Len)
				if l > ext4format.InitMaxLen {
					l -= ext4format.InitMaxLen
				}
				if l == 0 || uint64(x.Block) < next || x.Start() == 0 || x.Start()+uint64(l) > im.blocks {
					return fmt.Errorf("inode %d: extent at logical block %d overlaps, is empty or lies outside the filesystem", ino, x.Block)
				}
				next, mapped = uint64(x.Block)+uint64(l), mapped+uint64(l)
				if mapped > im.blocks {
					return fmt.Errorf("inode %d: extents map more blocks than the filesystem has", ino)
				}
				out = append(out, extent{x.Block, l, x.Start()})
				continue
			}
			var x ext4format.ExtentIdx
			x.Unmarshal(e)
			if uint64(x.Block) < next {
				return fmt.Errorf("inode %d: extent index at logical block %d goes back", ino, x.Block)
			}
			if x.Leaf() == 0 || visited[x.Leaf()] {
				return fmt.Errorf("inode %d: extent index names block %d twice or block 0", ino, x.Leaf())
			}
			visited[x.Leaf()] = true
			child, err := im.read(x.Leaf())
			if err != nil {
				return fmt.Errorf("inode %d: %w", ino, err)
			}
			tree = append(tree, x.Leaf())
			if err := walk(child, depth-1); err != nil {
				return err
			}
		}
		return nil
	}
	var h ext4format.ExtentHeader
	h.Unmarshal(n.Block[:])
	if h.Depth > ext4format.MaxExtentDepth {
		return nil, nil, fmt.Errorf("inode %d: extent tree too deep", ino)
	}
	if err := walk(n.Block[:], int(h.Depth)); err != nil {
		return nil, nil, err
	}
	return out, tree, nil
}

// ownRuns is every block an inode's extent tree maps or uses.
func ownRuns(exts []extent, tree []uint64) []run {
	var rs []run
	for _, x := range exts {
		rs = append(rs, run{x.phys, uint64(x.len)})
	}
	for _, t := range tree {
		rs = append(rs, run{t, 1})
	}
	return rs
}

// setExtents maps runs (in logical order from block 0) in n's i_block,
// with one leaf block when they need more than four extents, and returns
// the tree blocks used.
func (im *Image) setExtents(ino uint32, n *ext4format.Inode, runs []run) (uint64, error) {
	var exts []ext4format.Extent
	logical := uint32(0)
	for _, r := range runs {
		for done := uint64(0); done < r.len; {
			l := min(r.len-done, ext4format.InitMaxLen)
			p := r.start + done
			exts = append(exts, ext4format.Extent{Block: logical, Len: uint16(l), StartHi: uint16(p >> 32), StartLo: uint32(p)})
			logical += uint32(l)
			done += l
		}
	}
	const rootMax = (60 - ext4format.ExtentHeaderSize) / ext4format.ExtentEntrySize
	n.Flags |= ext4format.InodeFlagExtents
	n.Block = [60]byte{}
	put := func(b []byte, es []ext4format.Extent, max uint16) {
		ext4format.ExtentHeader{Magic: ext4format.ExtentMagic, Entries: uint16(len(es)), Max: max}.Marshal(b)
		for i, e := range es {
			e.Marshal(b[ext4format.ExtentHeaderSize+ext4format.ExtentEntrySize*i:])
		}
	}
	if len(exts) <= rootMax {
		put(n.Block[:], exts, rootMax)
		return 0, nil
	}
	leafMax := (int(im.bs) - ext4format.ExtentHeaderSize - ext4format.ExtentTailSize) / ext4format.ExtentEntrySize
	if len(exts) > leafMax {
		return 0, fmt.Errorf("inode %d: %d extents do not fit one extent block (free space too fragmented)", ino, len(exts))
	}
	rs, err := im.allocBlocks(1)
	if err != nil {
		return 0, err
	}
	leaf := im.stageZero(rs[0].start)
	put(leaf, exts, uint16(leafMax))
	if im.csum {
		ext4format.SetExtentTail(leaf, im.inodeSeed(ino, n.Generation))
	}
	ext4format.ExtentHeader{Magic: ext4format.ExtentMagic, Entries: 1, Max: rootMax, Depth: 1}.Marshal(n.Block[:])
	ext4format.ExtentIdx{LeafLo: uint32(rs[0].start), LeafHi: uint16(rs[0].start >> 32)}.Marshal(n.Block[ext4format.ExtentHeaderSize:])
	return 1, nil
}

// writeData allocates blocks for data, stages them and maps them in n,
// setting i_size and i_blocks (the xattr block counted as it was).
func (im *Image) writeData(ino uint32, n *ext4format.Inode, data []byte) error {
	nblocks := (uint64(len(data)) + uint64(im.bs) - 1) / uint64(im.bs)
	rs, err := im.allocBlocks(nblocks)
	if err != nil {
		return err
	}
	off := 0
	for _, r := range rs {
		for nr := r.start; nr < r.start+r.len; nr++ {
			off += copy(im.stageZero(nr), data[off:])
		}
	}
	tree, err := im.setExtents(ino, n, rs)
	if err != nil {
		return err
	}
	n.SetFileSize(uint64(len(data)))
	n.SetBlocks512((nblocks + tree + xattrBlocks(n)) * uint64(im.bs/512))
	return nil
}

func xattrBlocks(n *ext4format.Inode) uint64 {
	if n.FileACL() != 0 {
		return 1
	}
	return 0
}

// releaseBlocks frees everything an inode's extent tree maps or uses.
func (im *Image) releaseBlocks(ino uint32, n *ext4format.Inode) error {
	exts, tree, err := im.extents(ino, n)
	if err != nil {
		return err
	}
	return im.freeBlocks(ownRuns(exts, tree))
}

// dropXattrBlock drops inode ino's reference to its xattr block: the
// block is freed with its last reference.
func (im *Image) dropXattrBlock(n *ext4format.Inode) error {
	nr := n.FileACL()
	if nr == 0 {
		return nil
	}
	b, err := im.stage(nr)
	if err != nil {
		return err
	}
	var h ext4format.XattrHeader
	h.Unmarshal(b)
	if h.Magic != ext4format.XattrMagic {
		return fmt.Errorf("xattr block %d: bad magic", nr)
	}
	if h.Refcount <= 1 {
		return im.freeBlocks([]run{{nr, 1}})
	}
	h.Refcount--
	h.Marshal(b)
	if im.csum {
		h.Checksum = ext4format.XattrBlockChecksum(im.seed, nr, b)
		h.Marshal(b)
	}
	return nil
}
