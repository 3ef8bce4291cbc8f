package ext4patch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4dir"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// dir is a directory opened for editing: its inode and the physical block
// of each logical one; for a hash tree, which blocks are index blocks.
type dir struct {
	ino    uint32
	n      *ext4format.Inode
	raw    []byte
	blocks []uint64
	index  map[int]bool // logical blocks holding the hash tree's index
	levels int          // indirect_levels
}

// dirent is one entry of a directory and where it lies.
type dirent struct {
	name  string
	ino   uint32
	ftype uint8
	lblk  int // logical block
	off   int // offset in the block
	prev  int // offset of the previous entry in the block, -1 for the first
}

// maxDirBlocks bounds a directory's size (i_size / block size): 2^20
// blocks hold millions of names, far past what the patcher meets.
const maxDirBlocks = 1 << 20

func (im *Image) geometry() ext4dir.Geometry { return ext4dir.NewGeometry(int(im.bs), im.csum) }

func (im *Image) openDir(ino uint32) (*dir, error) {
	n, raw, err := im.inode(ino)
	if err != nil {
		return nil, err
	}
	if n.Mode&0o170000 != 0o040000 {
		return nil, fmt.Errorf("inode %d is not a directory", ino)
	}
	exts, _, err := im.extents(ino, n)
	if err != nil {
		return nil, err
	}
	d := &dir{ino: ino, n: n, raw: raw, index: map[int]bool{}}
	if n.FileSize()/uint64(im.bs) > maxDirBlocks {
		return nil, fmt.Errorf("directory inode %d: %d bytes are more than %d blocks", ino, n.FileSize(), maxDirBlocks)
	}
	nblocks := int(n.FileSize() / uint64(im.bs))
	for _, x := range exts {
		for i := range x.len {
			if len(d.blocks) == nblocks {
				break
			}
			if int(x.logical+i) != len(d.blocks) {
				return nil, fmt.Errorf("directory inode %d has a hole", ino)
			}
			d.blocks = append(d.blocks, x.phys+uint64(i))
		}
	}
	if len(d.blocks) < nblocks || nblocks == 0 {
		return nil, fmt.Errorf("directory inode %d: %d of its %d blocks are mapped", ino, len(d.blocks), nblocks)
	}
	d.blocks = d.blocks[:nblocks]
	if n.Flags&ext4format.InodeFlagIndex != 0 {
		root, err := im.read(d.blocks[0])
		if err != nil {
			return nil, err
		}
		var info ext4format.DxRootInfo
		info.Unmarshal(root[ext4format.DxRootInfoOffset:])
		d.levels = int(info.IndirectLevels)
		d.index[0] = true
		if d.levels > 1 {
			return nil, fmt.Errorf("directory inode %d: a hash tree of %d levels", ino, d.levels+1)
		}
		if d.levels == 1 {
			for _, e := range dxEntries(root, ext4format.DxRootEntriesOffset) {
				if int(e.Block) >= nblocks {
					return nil, fmt.Errorf("directory inode %d: index names block %d of %d", ino, e.Block, nblocks)
				}
				d.index[int(e.Block)] = true
			}
		}
	}
	return d, nil
}

// dxEntries are the entries of an index block whose dx_countlimit is at
// b[at:]; the first one's hash reads as 0.
func dxEntries(b []byte, at int) []ext4format.DxEntry {
	var cl ext4format.DxCountLimit
	cl.Unmarshal(b[at:])
	out := make([]ext4format.DxEntry, 0, cl.Count)
	for i := range int(cl.Count) {
		if at+ext4format.DxEntrySize*(i+1) > len(b) {
			break
		}
		var e ext4format.DxEntry
		e.Unmarshal(b[at+ext4format.DxEntrySize*i:])
		if i == 0 {
			e.Hash = 0
		}
		out = append(out, e)
	}
	return out
}

// entries lists the names of d (with "." and ".."), block by block.
func (im *Image) entries(d *dir) ([]dirent, error) {
	space := im.geometry().Space
	var out []dirent
	for lblk, nr := range d.blocks {
		if d.index[lblk] {
			if lblk == 0 { // the dx_root's "." and ".." entries
				b, err := im.read(nr)
				if err != nil {
					return nil, err
				}
				var dotdot ext4format.DirEntry
				dotdot.Unmarshal(b[12:])
				out = append(out, dirent{name: ".", ino: d.ino, ftype: ext4format.FileTypeDir, prev: -1},
					dirent{name: "..", ino: dotdot.Inode, ftype: ext4format.FileTypeDir, off: 12})
			}
			continue
		}
		b, err := im.read(nr)
		if err != nil {
			return nil, err
		}
		prev := -1
		for off := 0; off < space; {
			var e ext4format.DirEntry
			e.Unmarshal(b[off:])
			if !entryFits(e, off, space) {
				return nil, fmt.Errorf("directory inode %d: block %d: corrupt entry at %d", d.ino, lblk, off)
			}
			rl := int(e.RecLen)
			if e.Inode != 0 {
				name := string(b[off+ext4format.DirEntryHeaderSize:][:e.NameLen])
				out = append(out, dirent{name: name, ino: e.Inode, ftype: e.FileType, lblk: lblk, off: off, prev: prev})
			}
			prev, off = off, off+rl
		}
	}
	return out, nil
}

// entryFits reports whether entry e at off is sound in a block of space
// bytes for entries: a rec_len of at least 12, a multiple of 4, inside the
// space and holding the name.
func entryFits(e ext4format.DirEntry, off, space int) bool {
	rl := int(e.RecLen)
	return rl >= ext4format.DirEntrySize(1) && rl%4 == 0 && off+rl <= space &&
		int(e.NameLen)+ext4format.DirEntryHeaderSize <= rl
}

// lookup finds name in directory ino.
func (im *Image) lookup(ino uint32, name string) (*dirent, *dir, error) {
	d, err := im.openDir(ino)
	if err != nil {
		return nil, nil, err
	}
	ents, err := im.entries(d)
	if err != nil {
		return nil, nil, err
	}
	for i := range ents {
		if ents[i].name == name {
			return &ents[i], d, nil
		}
	}
	return nil, d, nil
}

// hashSigned reports whether directory names hash with signed chars.
func (im *Image) hashSigned() bool { return im.sb.Flags&ext4format.FlagsUnsignedHash == 0 }

// addEntry adds e to directory d: in place when a block (for a hash tree,
// the leaf e's hash leads to) has room, else by rewriting the directory.
func (im *Image) addEntry(d *dir, e ext4dir.Entry) error {
	need := ext4format.DirEntrySize(len(e.Name))
	candidates := []int{}
	if len(d.index) > 0 {
		leaf, err := im.htreeLeaf(d, e.Name)
		if err != nil {
			return err
		}
		candidates = append(candidates, leaf)
	} else {
		for i := range d.blocks {
			candidates = append(candidates, i)
		}
	}
	g := im.geometry()
	seed := im.inodeSeed(d.ino, d.n.Generation)
	for _, lblk := range candidates {
		b, err := im.read(d.blocks[lblk])
		if err != nil {
			return err
		}
		for off := 0; off < g.Space; {
			var x ext4format.DirEntry
			x.Unmarshal(b[off:])
			if !entryFits(x, off, g.Space) {
				return fmt.Errorf("directory inode %d: block %d: corrupt entry at %d", d.ino, lblk, off)
			}
			rl := int(x.RecLen)
			used := 0
			if x.Inode != 0 {
				used = ext4format.DirEntrySize(int(x.NameLen))
			}
			if rl-used >= need {
				b, err := im.stage(d.blocks[lblk])
				if err != nil {
					return err
				}
				if used > 0 {
					x.RecLen = uint16(used)
					x.Marshal(b[off:])
				}
				e.Marshal(b[off+used:], rl-used)
				ext4dir.LeafTail(b, g, seed)
				return nil
			}
			off += rl
		}
	}
	ents, err := im.entries(d)
	if err != nil {
		return err
	}
	return im.rewriteDir(d, append(ents, dirent{name: e.Name, ino: e.Inode, ftype: e.FileType}))
}

// htreeLeaf is the logical leaf block that name's hash leads to.
func (im *Image) htreeLeaf(d *dir, name string) (int, error) {
	root, err := im.read(d.blocks[0])
	if err != nil {
		return 0, err
	}
	var info ext4format.DxRootInfo
	info.Unmarshal(root[ext4format.DxRootInfoOffset:])
	if info.HashVersion != ext4format.HashHalfMD4 {
		return 0, fmt.Errorf("directory inode %d is hashed with version %d, not half_md4", d.ino, info.HashVersion)
	}
	h, _ := ext4dir.Hash(name, im.sb.HashSeed, im.hashSigned())
	// pick follows b's index to a block that must be an index node
	// (node) or a leaf: never block 0, the root.
	pick := func(b []byte, at int, node bool) (int, error) {
		es := dxEntries(b, at)
		if len(es) == 0 {
			return 0, fmt.Errorf("directory inode %d: empty hash tree index", d.ino)
		}
		i := len(es) - 1
		for i > 0 && es[i].Hash > h {
			i--
		}
		blk := int(es[i].Block)
		if blk == 0 || blk >= len(d.blocks) || d.index[blk] != node {
			return 0, fmt.Errorf("directory inode %d: index names block %d of %d, not a %s", d.ino, blk, len(d.blocks), map[bool]string{true: "node", false: "leaf"}[node])
		}
		return blk, nil
	}
	blk, err := pick(root, ext4format.DxRootEntriesOffset, d.levels > 0)
	if err != nil || d.levels == 0 {
		return blk, err
	}
	node, err := im.read(d.blocks[blk])
	if err != nil {
		return 0, err
	}
	return pick(node, ext4format.DxNodeEntriesOffset, false)
}

// removeEntry takes entry e out of directory d, in place.
func (im *Image) removeEntry(d *dir, e *dirent) error {
	b, err := im.stage(d.blocks[e.lblk])
	if err != nil {
		return err
	}
	var x ext4format.DirEntry
	x.Unmarshal(b[e.off:])
	if e.prev >= 0 {
		var p ext4format.DirEntry
		p.Unmarshal(b[e.prev:])
		p.RecLen += x.RecLen
		p.Marshal(b[e.prev:])
	} else {
		x.Inode = 0
		x.Marshal(b[e.off:])
	}
	ext4dir.LeafTail(b, im.geometry(), im.inodeSeed(d.ino, d.n.Generation))
	return nil
}

// rewriteDir writes directory d anew, with ents (its "." and ".." taken
// from them), into newly allocated blocks laid out as ext4img would, and
// frees its old blocks.
func (im *Image) rewriteDir(d *dir, ents []dirent) error {
	out := &ext4dir.Dir{Ino: d.ino}
	for _, e := range ents {
		switch e.name {
		case ".":
		case "..":
			out.Parent = e.ino
		default:
			out.Children = append(out.Children, ext4dir.Entry{Inode: e.ino, FileType: e.ftype, Name: e.name})
		}
	}
	slices.SortFunc(out.Children, func(a, b ext4dir.Entry) int { return strings.Compare(a.Name, b.Name) })
	if im.sb.FeatureCompat&ext4format.CompatDirIndex == 0 {
		out.MinBlocks = 1 // linear only
	}
	g := im.geometry()
	nblocks, h, err := ext4dir.Plan(out, g, im.sb.HashSeed, im.hashSigned())
	if err != nil {
		return fmt.Errorf("directory inode %d: %w", d.ino, err)
	}
	if err := im.releaseBlocks(d.ino, d.n); err != nil {
		return err
	}
	rs, err := im.allocBlocks(uint64(nblocks))
	if err != nil {
		return err
	}
	blocks := ext4dir.Encode(out, h, g, nblocks, im.inodeSeed(d.ino, d.n.Generation))
	i := 0
	for _, r := range rs {
		for nr := r.start; nr < r.start+r.len; nr++ {
			copy(im.stageZero(nr), blocks[i])
			i++
		}
	}
	tree, err := im.setExtents(d.ino, d.n, rs)
	if err != nil {
		return err
	}
	d.n.SetFileSize(uint64(nblocks) * uint64(im.bs))
	d.n.SetBlocks512((uint64(nblocks) + tree + xattrBlocks(d.n)) * uint64(im.bs/512))
	if h != nil {
		d.n.Flags |= ext4format.InodeFlagIndex
	} else {
		d.n.Flags &^= ext4format.InodeFlagIndex
	}
	return im.putInode(d.ino, d.n, d.raw)
}
