// Package ext4dir lays out ext4 directories, for the image writer
// (ext4img) and the in-place patcher (ext4patch), so that a directory the
// patcher rewrites is encoded exactly as the writer would have written it:
// the half_md4 name hash in both char variants, the room in a block with
// and without metadata_csum, linear blocks of entries, and two-level hash
// trees (directory.rst, "Linear Directories" and "Hash Tree Directories").
//
// Left out on purpose: the TEA and legacy hashes, hash trees of three
// levels (large_dir), casefolded and encrypted names, and reading
// directories (ext4fs reads them; the patcher edits blocks in place). The
// on-disk structures themselves are internal/ext4format's.
package ext4dir

import (
	"fmt"
	"sort"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// HtreeMinBlocks: a directory whose linear form needs this many blocks is
// written as an htree. e2fsck -fy re-indexes (rewrites) unindexed
// directories of three or more blocks when dir_index is set (pass1.c), so
// anything smaller stays linear and anything bigger gets the index e2fsck
// would build.
const HtreeMinBlocks = 3

// Geometry is the room in directory blocks: with metadata_csum every leaf
// block ends in a 12-byte checksum entry and every index block in an
// 8-byte dx_tail.
type Geometry struct {
	BlockSize            int
	Space                int // bytes for entries in a leaf block
	RootLimit, NodeLimit int // dx_entry slots in the root and in a node
	Csum                 bool
}

// NewGeometry is the geometry of bs-byte blocks, with metadata_csum when
// csum is set.
func NewGeometry(bs int, csum bool) Geometry {
	const root, node, entry, tail = ext4format.DxRootEntriesOffset, ext4format.DxNodeEntriesOffset, ext4format.DxEntrySize, ext4format.DxTailSize
	g := Geometry{BlockSize: bs, Space: bs, RootLimit: (bs - root) / entry, NodeLimit: (bs - node) / entry, Csum: csum}
	if csum {
		g.Space -= ext4format.DirTailSize
		g.RootLimit, g.NodeLimit = (bs-root-tail)/entry, (bs-node-tail)/entry
	}
	return g
}

// Entry is one name of a directory.
type Entry struct {
	Inode    uint32
	FileType uint8 // ext4format.FileType*
	Name     string
}

// Marshal writes e with rec_len recLen at b.
func (e Entry) Marshal(b []byte, recLen int) {
	ext4format.DirEntry{Inode: e.Inode, RecLen: uint16(recLen), NameLen: uint8(len(e.Name)), FileType: e.FileType}.Marshal(b)
	copy(b[ext4format.DirEntryHeaderSize:], e.Name)
}

// packer lays out directory entries in blocks: each entry takes its minimal
// rec_len, and a block's last entry reaches to the block's end.
type packer struct {
	space              int
	block, off         int
	last               Entry
	lastBlock, lastOff int
	emit               func(block, off, recLen int, e Entry) // nil to only count
	starts             []int                                 // entry index starting each block
	count              int
}

func newPacker(space int, emit func(block, off, recLen int, e Entry)) *packer {
	return &packer{space: space, lastOff: -1, emit: emit, starts: []int{0}}
}

func (p *packer) put(e Entry) {
	size := ext4format.DirEntrySize(len(e.Name))
	if p.lastOff >= 0 {
		if p.off+size > p.space {
			p.flush(p.space)
			p.block, p.off = p.block+1, 0
			p.starts = append(p.starts, p.count)
		} else {
			p.flush(p.off)
		}
	}
	p.last, p.lastBlock, p.lastOff = e, p.block, p.off
	p.off += size
	p.count++
}

// flush emits the pending entry with its rec_len reaching to end.
func (p *packer) flush(end int) {
	if p.emit != nil {
		p.emit(p.lastBlock, p.lastOff, end-p.lastOff, p.last)
	}
}

// blocks finishes the last block and returns the block count.
func (p *packer) blocks() int {
	if p.lastOff >= 0 {
		p.flush(p.space)
	}
	return p.block + 1
}

// Dir is a directory to lay out: its own inode, its parent's, and its
// children in name order (neither "." nor "..").
type Dir struct {
	Ino, Parent uint32
	Children    []Entry
	// MinBlocks is the least number of blocks a linear directory gets
	// (lost+found is pre-sized so that e2fsck can reconnect files).
	MinBlocks int
}

// packLinear lays out d as a linear directory: ".", "..", the children in
// order.
func packLinear(d *Dir, g Geometry, emit func(block, off, recLen int, e Entry)) int {
	p := newPacker(g.Space, emit)
	p.put(Entry{Inode: d.Ino, FileType: ext4format.FileTypeDir, Name: "."})
	p.put(Entry{Inode: d.Parent, FileType: ext4format.FileTypeDir, Name: ".."})
	for _, c := range d.Children {
		p.put(c)
	}
	return max(p.blocks(), d.MinBlocks)
}

// Htree is an indexed directory's layout: block 0 is the dx_root, then
// the index nodes of a two-level tree, then the leaves, which hold the
// entries in hash order.
type Htree struct {
	order      []int32  // indexes into Dir.Children in hash order
	hashes     []uint32 // their major hashes, in that order
	leafStarts []int    // index into order of each leaf's first entry
	nodes      int      // second-level index blocks (0: one level)
}

func (h *Htree) blocks() int { return 1 + h.nodes + len(h.leafStarts) }

// Plan decides between a linear and an indexed directory (indexed from
// HtreeMinBlocks linear blocks on, unless d has MinBlocks) and returns
// the block count and, for an indexed one, its layout. Only the
// children's names count: their inode numbers may still be zero.
func Plan(d *Dir, g Geometry, seed [16]byte, signed bool) (int, *Htree, error) {
	n := packLinear(d, g, nil)
	if n < HtreeMinBlocks || d.MinBlocks > 0 {
		return n, nil, nil
	}
	h := &Htree{order: make([]int32, len(d.Children)), hashes: make([]uint32, len(d.Children))}
	minor := make([]uint32, len(d.Children))
	for i, c := range d.Children {
		h.order[i] = int32(i)
		h.hashes[i], minor[i] = Hash(c.Name, seed, signed)
	}
	sort.Sort(byHashOrder{h, minor, d.Children})
	p := newPacker(g.Space, nil)
	for _, i := range h.order {
		p.put(d.Children[i])
	}
	p.blocks()
	h.leafStarts = p.starts
	if leaves := len(h.leafStarts); leaves > g.RootLimit {
		h.nodes = (leaves + g.NodeLimit - 1) / g.NodeLimit
		if h.nodes > g.RootLimit {
			return 0, nil, fmt.Errorf("%d entries need more than a two-level hash tree", len(d.Children))
		}
	}
	return h.blocks(), h, nil
}

type byHashOrder struct {
	h        *Htree
	minor    []uint32
	children []Entry
}

func (s byHashOrder) Len() int { return len(s.minor) }
func (s byHashOrder) Less(i, j int) bool {
	h := s.h.hashes
	if h[i] != h[j] {
		return h[i] < h[j]
	}
	if s.minor[i] != s.minor[j] {
		return s.minor[i] < s.minor[j]
	}
	return s.children[s.h.order[i]].Name < s.children[s.h.order[j]].Name
}
func (s byHashOrder) Swap(i, j int) {
	s.h.order[i], s.h.order[j] = s.h.order[j], s.h.order[i]
	s.h.hashes[i], s.h.hashes[j] = s.h.hashes[j], s.h.hashes[i]
	s.minor[i], s.minor[j] = s.minor[j], s.minor[i]
}

// leafHash is the index hash of leaf i: the hash of its first entry, with
// the low bit set when the previous leaf ends with the same hash (a
// collision run continues).
func (h *Htree) leafHash(i int) uint32 {
	s := h.leafStarts[i]
	v := h.hashes[s]
	if i > 0 && h.hashes[s-1] == v {
		v |= 1
	}
	return v
}

// LeafTail finishes a leaf block b: an unused entry spanning an empty
// block, and with metadata_csum the checksum tail (seed is the
// directory inode's checksum seed).
func LeafTail(b []byte, g Geometry, seed uint32) {
	var first ext4format.DirEntry
	if first.Unmarshal(b); first.RecLen == 0 {
		first.RecLen = uint16(g.Space)
		first.Marshal(b)
	}
	if g.Csum {
		bs := len(b)
		ext4format.DirTail{RecLen: ext4format.DirTailSize, FileType: ext4format.FileTypeDirCsum,
			Checksum: ext4format.CRC32c(seed, b[:bs-ext4format.DirTailSize])}.Marshal(b[bs-ext4format.DirTailSize:])
	}
}

// Encode returns all nblocks blocks of directory d as Plan laid it out (h
// nil for a linear one); with metadata_csum, seed is the directory
// inode's checksum seed. d.Children must be what Plan saw, now with their
// inode numbers.
func Encode(d *Dir, h *Htree, g Geometry, nblocks int, seed uint32) [][]byte {
	bs := g.BlockSize
	buf := make([]byte, nblocks*bs)
	blocks := make([][]byte, nblocks)
	for i := range blocks {
		blocks[i] = buf[i*bs : (i+1)*bs]
	}
	leafTails := func(leaves [][]byte) {
		for _, b := range leaves {
			LeafTail(b, g, seed)
		}
	}
	if h == nil {
		packLinear(d, g, func(block, off, recLen int, e Entry) { e.Marshal(blocks[block][off:], recLen) })
		leafTails(blocks)
		return blocks
	}
	firstLeaf := 1 + h.nodes
	p := newPacker(g.Space, func(block, off, recLen int, e Entry) { e.Marshal(blocks[firstLeaf+block][off:], recLen) })
	for _, i := range h.order {
		p.put(d.Children[i])
	}
	p.blocks()
	leafTails(blocks[firstLeaf:])

	// dx_root: "." and "..", dx_root_info, then the index entries.
	root := blocks[0]
	Entry{Inode: d.Ino, FileType: ext4format.FileTypeDir, Name: "."}.Marshal(root, 12)
	Entry{Inode: d.Parent, FileType: ext4format.FileTypeDir, Name: ".."}.Marshal(root[12:], bs-12)
	// hash_version half_md4 (signed or unsigned per s_flags), info_length 8.
	info := ext4format.DxRootInfo{HashVersion: ext4format.HashHalfMD4, InfoLength: 8}
	info.Marshal(root[ext4format.DxRootInfoOffset:])
	leaves := len(h.leafStarts)
	if h.nodes == 0 {
		writeIndex(root, g, ext4format.DxRootEntriesOffset, g.RootLimit, leaves, seed, func(i int) (uint32, uint32) {
			return h.leafHash(i), uint32(firstLeaf + i)
		})
		return blocks
	}
	info.IndirectLevels = 1
	info.Marshal(root[ext4format.DxRootInfoOffset:])
	writeIndex(root, g, ext4format.DxRootEntriesOffset, g.RootLimit, h.nodes, seed, func(i int) (uint32, uint32) {
		return h.leafHash(i * g.NodeLimit), uint32(1 + i)
	})
	for j := range h.nodes {
		b := blocks[1+j]
		ext4format.DirEntry{RecLen: uint16(bs)}.Marshal(b) // a fake empty entry spanning the block
		lo := j * g.NodeLimit
		count := min(g.NodeLimit, leaves-lo)
		writeIndex(b, g, ext4format.DxNodeEntriesOffset, g.NodeLimit, count, seed, func(i int) (uint32, uint32) {
			return h.leafHash(lo + i), uint32(firstLeaf + lo + i)
		})
	}
	return blocks
}

// writeIndex writes count index entries at b[at:], their count and limit
// in the first one's hash, then the dx_tail checksum with metadata_csum.
func writeIndex(b []byte, g Geometry, at, limit, count int, seed uint32, child func(i int) (hash, block uint32)) {
	const entry = ext4format.DxEntrySize
	for i := range count {
		hash, blk := child(i)
		ext4format.DxEntry{Hash: hash, Block: blk}.Marshal(b[at+entry*i:])
	}
	ext4format.DxCountLimit{Limit: uint16(limit), Count: uint16(count)}.Marshal(b[at:])
	if g.Csum {
		c := ext4format.CRC32c(seed, b[:at+entry*count])
		c = ext4format.CRC32c(c, make([]byte, ext4format.DxTailSize)) // the tail, dt_checksum as zero
		ext4format.DxTail{Checksum: c}.Marshal(b[at+entry*limit:])
	}
}
