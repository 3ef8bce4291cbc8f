package ext4img

import (
	"fmt"
	"sort"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// lostFoundBytes is the size mke2fs gives lost+found, so that e2fsck can
// reconnect files without allocating blocks.
const lostFoundBytes = 16384

// htreeMinBlocks: a directory whose linear form needs this many blocks is
// written as an htree. e2fsck -fy re-indexes (rewrites) unindexed
// directories of three or more blocks when dir_index is set (pass1.c), so
// anything smaller stays linear and anything bigger gets the index e2fsck
// would build.
const htreeMinBlocks = 3

// dirGeometry is the room in directory blocks: with metadata_csum every
// leaf block ends in a 12-byte checksum entry and every index block in an
// 8-byte dx_tail.
type dirGeometry struct {
	bs, space            int // block size, bytes for entries in a leaf block
	rootLimit, nodeLimit int // dx_entry slots in the root and in a node
	csum                 bool
}

func newDirGeometry(bs int, csum bool) dirGeometry {
	const root, node, entry, tail = ext4format.DxRootEntriesOffset, ext4format.DxNodeEntriesOffset, ext4format.DxEntrySize, ext4format.DxTailSize
	g := dirGeometry{bs: bs, space: bs, rootLimit: (bs - root) / entry, nodeLimit: (bs - node) / entry, csum: csum}
	if csum {
		g.space -= ext4format.DirTailSize
		g.rootLimit, g.nodeLimit = (bs-root-tail)/entry, (bs-node-tail)/entry
	}
	return g
}

// dirEntry is a directory entry as the writer lays it out.
type dirEntry struct {
	Inode    uint32
	RecLen   uint16
	FileType uint8
	Name     string
}

func (d dirEntry) marshal(b []byte) {
	ext4format.DirEntry{Inode: d.Inode, RecLen: d.RecLen, NameLen: uint8(len(d.Name)), FileType: d.FileType}.Marshal(b)
	copy(b[ext4format.DirEntryHeaderSize:], d.Name)
}

// packer lays out directory entries in blocks: each entry takes its minimal
// rec_len, and a block's last entry reaches to the block's end.
type packer struct {
	space              int
	block, off         int
	last               dirEntry
	lastBlock, lastOff int
	emit               func(block, off int, e dirEntry) // nil to only count
	starts             []int                            // entry index starting each block
	count              int
}

func newPacker(space int, emit func(block, off int, e dirEntry)) *packer {
	return &packer{space: space, lastOff: -1, emit: emit, starts: []int{0}}
}

func (p *packer) put(e dirEntry) {
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
		p.last.RecLen = uint16(end - p.lastOff)
		p.emit(p.lastBlock, p.lastOff, p.last)
	}
}

// blocks finishes the last block and returns the block count.
func (p *packer) blocks() int {
	if p.lastOff >= 0 {
		p.flush(p.space)
	}
	return p.block + 1
}

func childEntry(c dirent) dirEntry {
	return dirEntry{Inode: c.n.ino, FileType: ext4format.FileType(c.n.mode), Name: c.name}
}

// packLinear lays out d as a linear directory: ".", "..", the children in
// name order.
func packLinear(d *node, g dirGeometry, emit func(block, off int, e dirEntry)) int {
	p := newPacker(g.space, emit)
	p.put(dirEntry{Inode: d.ino, FileType: ext4format.FileTypeDir, Name: "."})
	p.put(dirEntry{Inode: d.dir().parent.ino, FileType: ext4format.FileTypeDir, Name: ".."})
	for _, c := range d.children() {
		p.put(childEntry(c))
	}
	n := p.blocks()
	if d.ino == lostFoundIno {
		n = max(n, lostFoundBytes/g.bs)
	}
	return n
}

// htreePlan is an indexed directory (directory.rst, "Hash Tree
// Directories"): block 0 is the dx_root, then the index nodes of a two-level
// tree, then the leaves, which hold the entries in hash order.
type htreePlan struct {
	byHash     []dirent
	hashes     []uint32
	leafStarts []int // index into byHash of each leaf's first entry
	nodes      int   // second-level index blocks (0: one level)
}

func (h *htreePlan) blocks() int { return 1 + h.nodes + len(h.leafStarts) }

// planDir decides between a linear and an indexed directory and returns
// the block count.
func planDir(d *node, g dirGeometry, seed [16]byte) (uint32, *htreePlan, error) {
	n := packLinear(d, g, nil)
	if n < htreeMinBlocks || d.ino == lostFoundIno {
		return uint32(n), nil, nil
	}
	h := &htreePlan{byHash: append([]dirent(nil), d.children()...), hashes: make([]uint32, len(d.children()))}
	minor := make([]uint32, len(d.children()))
	for i, c := range h.byHash {
		h.hashes[i], minor[i] = dirHash(c.name, seed)
	}
	sort.Sort(byHashOrder{h, minor})
	p := newPacker(g.space, nil)
	for _, c := range h.byHash {
		p.put(childEntry(c))
	}
	p.blocks()
	h.leafStarts = p.starts
	if leaves := len(h.leafStarts); leaves > g.rootLimit {
		h.nodes = (leaves + g.nodeLimit - 1) / g.nodeLimit
		if h.nodes > g.rootLimit {
			return 0, nil, fmt.Errorf("directory %q: %d entries need more than a two-level hash tree", d.path(nil), len(d.children()))
		}
	}
	return uint32(h.blocks()), h, nil
}

type byHashOrder struct {
	h     *htreePlan
	minor []uint32
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
	return s.h.byHash[i].name < s.h.byHash[j].name
}
func (s byHashOrder) Swap(i, j int) {
	s.h.byHash[i], s.h.byHash[j] = s.h.byHash[j], s.h.byHash[i]
	s.h.hashes[i], s.h.hashes[j] = s.h.hashes[j], s.h.hashes[i]
	s.minor[i], s.minor[j] = s.minor[j], s.minor[i]
}

// leafHash is the index hash of leaf i: the hash of its first entry, with
// the low bit set when the previous leaf ends with the same hash (a
// collision run continues).
func (h *htreePlan) leafHash(i int) uint32 {
	s := h.leafStarts[i]
	v := h.hashes[s]
	if i > 0 && h.hashes[s-1] == v {
		v |= 1
	}
	return v
}

// encodeDir returns all blocks of directory d; with metadata_csum, seed is
// the inode's checksum seed.
func encodeDir(d *node, h *htreePlan, g dirGeometry, nblocks uint32, seed uint32) [][]byte {
	bs := g.bs
	buf := make([]byte, int(nblocks)*bs)
	blocks := make([][]byte, nblocks)
	for i := range blocks {
		blocks[i] = buf[i*bs : (i+1)*bs]
	}
	// leafTails finishes leaf blocks: an unused entry in empty ones, the
	// checksum tail with metadata_csum.
	leafTails := func(leaves [][]byte) {
		for _, b := range leaves {
			var first ext4format.DirEntry
			if first.Unmarshal(b); first.RecLen == 0 {
				first.RecLen = uint16(g.space) // pre-sized lost+found
				first.Marshal(b)
			}
			if g.csum {
				ext4format.DirTail{RecLen: ext4format.DirTailSize, FileType: ext4format.FileTypeDirCsum,
					Checksum: ext4format.CRC32c(seed, b[:bs-ext4format.DirTailSize])}.Marshal(b[bs-ext4format.DirTailSize:])
			}
		}
	}
	if h == nil {
		packLinear(d, g, func(block, off int, e dirEntry) { e.marshal(blocks[block][off:]) })
		leafTails(blocks)
		return blocks
	}
	firstLeaf := 1 + h.nodes
	p := newPacker(g.space, func(block, off int, e dirEntry) { e.marshal(blocks[firstLeaf+block][off:]) })
	for _, c := range h.byHash {
		p.put(childEntry(c))
	}
	p.blocks()
	leafTails(blocks[firstLeaf:])

	// dx_root: "." and "..", dx_root_info, then the index entries.
	root := blocks[0]
	dirEntry{Inode: d.ino, RecLen: 12, FileType: ext4format.FileTypeDir, Name: "."}.marshal(root)
	dirEntry{Inode: d.dir().parent.ino, RecLen: uint16(bs - 12), FileType: ext4format.FileTypeDir, Name: ".."}.marshal(root[12:])
	// hash_version half_md4 (unsigned per s_flags), info_length 8.
	info := ext4format.DxRootInfo{HashVersion: ext4format.HashHalfMD4, InfoLength: 8}
	info.Marshal(root[ext4format.DxRootInfoOffset:])
	// index writes the count entries at b[at:], their count and limit in
	// the first one's hash, then the dx_tail checksum with metadata_csum.
	const entry = ext4format.DxEntrySize
	index := func(b []byte, at, limit, count int, child func(i int) (hash, block uint32)) {
		for i := range count {
			hash, blk := child(i)
			ext4format.DxEntry{Hash: hash, Block: blk}.Marshal(b[at+entry*i:])
		}
		ext4format.DxCountLimit{Limit: uint16(limit), Count: uint16(count)}.Marshal(b[at:])
		if g.csum {
			c := ext4format.CRC32c(seed, b[:at+entry*count])
			c = ext4format.CRC32c(c, make([]byte, ext4format.DxTailSize)) // the tail, dt_checksum as zero
			ext4format.DxTail{Checksum: c}.Marshal(b[at+entry*limit:])
		}
	}
	leaves := len(h.leafStarts)
	if h.nodes == 0 {
		index(root, ext4format.DxRootEntriesOffset, g.rootLimit, leaves, func(i int) (uint32, uint32) {
			return h.leafHash(i), uint32(firstLeaf + i)
		})
		return blocks
	}
	info.IndirectLevels = 1
	info.Marshal(root[ext4format.DxRootInfoOffset:])
	index(root, ext4format.DxRootEntriesOffset, g.rootLimit, h.nodes, func(i int) (uint32, uint32) {
		return h.leafHash(i * g.nodeLimit), uint32(1 + i)
	})
	for j := range h.nodes {
		b := blocks[1+j]
		ext4format.DirEntry{RecLen: uint16(bs)}.Marshal(b) // a fake empty entry spanning the block
		lo := j * g.nodeLimit
		count := min(g.nodeLimit, leaves-lo)
		index(b, ext4format.DxNodeEntriesOffset, g.nodeLimit, count, func(i int) (uint32, uint32) {
			return h.leafHash(lo + i), uint32(firstLeaf + lo + i)
		})
	}
	return blocks
}
