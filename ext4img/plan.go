package ext4img

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4dir"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// Layout is what Writer.Layout tells a caller about the image it will
// write: its geometry, counts and identifiers.
type Layout struct {
	BlockSize      int
	Blocks         int64  // total blocks, including block 0
	Inodes         uint32 // inode count
	FreeBlocks     int64
	FreeInodes     uint32
	JournalBlocks  int // 0 without a journal
	Groups         int
	InodesPerGroup uint32
	UUID           [16]byte
	HashSeed       [16]byte

	// AvailableBlocks is FreeBlocks less what the kernel keeps back for
	// itself (min(2 % of Blocks, 4096) blocks): what df in a guest shows as
	// available.
	AvailableBlocks int64

	// ClampedTimes is how many added entries had a ModTime that ext4 or
	// e2fsck cannot hold (ClampTime changed it); FirstClampedTime is the
	// path of the first of them, as added ("." for the root).
	ClampedTimes     int
	FirstClampedTime string
}

// Size is the image size in bytes.
func (l *Layout) Size() int64 { return l.Blocks * int64(l.BlockSize) }

// plan is the computed geometry of an image: every inode number and block
// address is fixed before the first byte is written. Its Layout is the
// part callers see (a copy: they cannot change what is written).
type plan struct {
	Layout

	fdb, bpg, gdtBlocks, itb uint32
	rsvGDT                   uint32 // s_reserved_gdt_blocks
	dind                     uint32 // the resize inode's double-indirect block, 0 without one
	groups                   []groupPlan
	backups                  []uint32 // groups holding a superblock copy
	reserved                 []run    // superblock + GDT copies in backup groups
	gaps                     []run    // free blocks below end
	end                      uint32   // first block after the last allocated one
	journal                  *inodePlan
	segs                     []segment
	byIno                    []*node
	plans                    []inodePlan // by inode number
	opts                     Options
	fsTime                   time.Time
	dirGeom                  ext4dir.Geometry
	csum                     bool   // metadata_csum
	csumSeed                 uint32 // s_csum_seed
	lastIno                  uint32
	xblocks                  []*xattrBlock
}

type groupPlan struct {
	blockBitmap, inodeBitmap, inodeTable uint32
	freeBlocks, freeInodes, usedDirs     uint32
}

// run is a range of blocks.
type run struct{ start, len uint32 }

// inodePlan is where one inode's blocks go. Plans live in one slice,
// indexed by inode number; what few inodes need sits behind more.
type inodePlan struct {
	dataBlocks uint32
	start      uint32 // the data's first block when it is one extent (more.runs is nil)
	more       *planMore
}

// runs is the data's extents in logical order.
func (pl *inodePlan) runs() []run {
	switch {
	case pl.more != nil && pl.more.runs != nil:
		return pl.more.runs
	case pl.dataBlocks == 0:
		return nil
	}
	return []run{{pl.start, pl.dataBlocks}}
}

// planMore is the part of a plan only extent trees, hash-tree directories
// and inodes with xattrs have.
type planMore struct {
	runs       []run          // data of more than one extent
	tree       []uint32       // extent tree blocks: leaves first, then each index level
	treeLevels []int          // number of tree blocks per level, leaves first
	htree      *ext4dir.Htree // indexed directories only
	xin        []byte         // in-inode xattr area (from 0xA0), or nil
	xblk       *xattrBlock
}

// extra returns pl.more, or the zero planMore.
func (pl *inodePlan) extra() planMore {
	if pl.more == nil {
		return planMore{}
	}
	return *pl.more
}

// ensureMore returns pl.more, allocating it.
func (pl *inodePlan) ensureMore() *planMore {
	if pl.more == nil {
		pl.more = &planMore{}
	}
	return pl.more
}

type xattrBlock struct {
	data  []byte
	block uint32
	refs  uint32
	owner uint32 // the first inode using it, whose blocks it precedes
}

// xattrRefcountMax is EXT4_XATTR_REFCOUNT_MAX: a block shared by more
// inodes than this is written again.
const xattrRefcountMax = 1024

type segKind uint8

const (
	segBackup segKind = iota // superblock + GDT copy of group idx
	segBlockBitmap
	segInodeBitmap
	segInodeTable
	segData // dir blocks, file data, slow symlink, journal
	segTree // extent tree block idx of n
	segXattr
	segResize // the resize inode's double-indirect block
)

// segment is a range of blocks written by one generator, in on-disk order.
type segment struct {
	start, len uint32
	kind       segKind
	idx        int // group, run or tree block index
	n          *node
	x          *xattrBlock
}

// Layout computes the image layout without writing it; the result is cached
// until the next Add or Link.
func (w *Writer) Layout() (*Layout, error) {
	l, err := w.planned()
	if err != nil {
		return nil, err
	}
	summary := l.Layout
	return &summary, nil
}

// planned returns the plan, computing it unless it is cached.
func (w *Writer) planned() (*plan, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.plan != nil {
		return w.plan, nil
	}
	p, err := w.prepare()
	if err != nil {
		return nil, err
	}
	l, err := p.solve()
	if err != nil {
		return nil, err
	}
	l.ClampedTimes, l.FirstClampedTime = w.clampedTimes, w.firstClampedTime
	w.plan = l
	return l, nil
}

// prepared is what does not depend on the image size: inode numbers, block
// needs, attributes, the tree digest.
type prepared struct {
	w        *Writer
	bs       int
	byIno    []*node
	plans    []inodePlan // by inode number
	xblocks  map[string][]*xattrBlock
	dataNeed int64 // data, symlink, xattr blocks
	digest   [32]byte
	uuid     [16]byte
	seed     [16]byte
	dirGeom  ext4dir.Geometry
}

func (w *Writer) prepare() (*prepared, error) {
	p := &prepared{w: w, bs: w.bs, xblocks: map[string][]*xattrBlock{}, dirGeom: ext4dir.NewGeometry(w.bs, w.opts.MetadataCsum)}
	// Inode numbers: 1-10 reserved, 2 root, 11 lost+found, then the tree
	// depth-first in name order; a hard-linked inode gets the number of its
	// first name in that order.
	p.byIno = make([]*node, firstIno+1, firstIno+w.inodes)
	p.byIno[ext4format.RootIno], p.byIno[lostFoundIno] = w.root, w.lost
	var reset func(d *node)
	reset = func(d *node) {
		for _, c := range d.children() {
			if c.n != w.lost {
				c.n.ino = 0
			}
			if c.n.dir() != nil {
				reset(c.n)
			}
		}
	}
	reset(w.root)
	var number func(d *node)
	number = func(d *node) {
		d.dir().sort()
		for _, c := range d.dir().children {
			if c.n.ino == 0 {
				c.n.ino = uint32(len(p.byIno))
				p.byIno = append(p.byIno, c.n)
			}
			if c.n.dir() != nil {
				number(c.n)
			}
		}
	}
	number(w.root)
	if uint64(len(p.byIno)) >= 1<<32-1 {
		return nil, fmt.Errorf("laying out the image: %d inodes are too many", len(p.byIno))
	}

	h := sha256.New()
	fsTime := w.opts.fsTime() // the time of entries without one
	var buf []byte
	for ino, n := range p.byIno {
		if n == nil {
			continue
		}
		buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(ino))
		buf = binary.LittleEndian.AppendUint32(buf, uint32(n.mode))
		buf = binary.LittleEndian.AppendUint32(buf, n.uid)
		buf = binary.LittleEndian.AppendUint32(buf, n.gid)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(cmp.Or(n.modTime(), fsTime).UnixNano()))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(n.size))
		buf = binary.LittleEndian.AppendUint32(buf, n.extra().devmajor)
		buf = binary.LittleEndian.AppendUint32(buf, n.extra().devminor)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(n.xattrs())))
		buf = append(buf, n.linkname()...)
		h.Write(buf)
		names := make([]string, 0, len(n.xattrs()))
		for k := range n.xattrs() {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(h, "%q=%q", k, n.xattrs()[k])
		}
		for _, c := range n.children() {
			buf = binary.LittleEndian.AppendUint32(append(buf[:0], c.name...), c.n.ino)
			h.Write(buf)
		}
	}
	o := w.opts
	fmt.Fprintf(h, "%d %d %v %d %q %d", p.bs, o.Size, o.NoJournal, o.JournalBlocks, o.Label, o.Time.UnixNano())
	copy(p.digest[:], h.Sum(nil))
	p.uuid, p.seed = o.UUID, o.HashSeed
	if p.uuid == ([16]byte{}) {
		p.uuid = derivedID(p.digest[:16])
	}
	if p.seed == ([16]byte{}) {
		p.seed = derivedID(p.digest[16:])
	}

	p.plans = make([]inodePlan, len(p.byIno))
	for ino, n := range p.byIno {
		if n == nil {
			continue
		}
		pl := &p.plans[ino]
		switch {
		case n.mode.IsDir():
			blocks, htree, err := planDir(n, p.dirGeom, p.seed)
			if err != nil {
				return nil, fmt.Errorf("laying out the image: %w", err)
			}
			pl.dataBlocks = blocks
			if htree != nil {
				pl.ensureMore().htree = htree
			}
		case n.mode.IsRegular():
			b := (n.size + int64(p.bs) - 1) / int64(p.bs)
			if b >= 1<<32 {
				return nil, fmt.Errorf("laying out %q: %d bytes are too many", n.path(p.w.root), n.size)
			}
			pl.dataBlocks = uint32(b)
		case n.mode.Type() == fs.ModeSymlink && len(n.linkname()) > ext4format.FastSymlinkMax:
			pl.dataBlocks = 1
		}
		p.dataNeed += int64(pl.dataBlocks)
		if len(n.xattrs()) > 0 {
			xs, err := sortedXattrs(n.xattrs())
			if err != nil {
				return nil, fmt.Errorf("laying out %q: %w", n.path(p.w.root), err)
			}
			m := pl.ensureMore()
			if m.xin = encodeInodeXattrs(xs); m.xin == nil {
				b := encodeXattrBlock(xs, p.bs)
				list := p.xblocks[string(b)]
				if len(list) == 0 || list[len(list)-1].refs >= xattrRefcountMax {
					list = append(list, &xattrBlock{data: b})
					p.xblocks[string(b)] = list
					p.dataNeed++
				}
				m.xblk = list[len(list)-1]
				m.xblk.refs++
			}
		}
	}
	return p, nil
}

// derivedID makes 16 digest bytes look like an RFC 4122 version 4 UUID
// (as tools print them); it is never zero.
func derivedID(b []byte) [16]byte {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// solve finds the image size (explicit or the smallest with headroom) and
// allocates every block.
func (p *prepared) solve() (*plan, error) {
	o := p.w.opts
	headBlocks := o.HeadroomBlocks
	if headBlocks == 0 {
		headBlocks = DefaultHeadroomBytes / int64(p.bs)
	}
	headInodes := o.HeadroomInodes
	if headInodes == 0 {
		headInodes = DefaultHeadroomInodes
	}
	headBlocks, headInodes = max(headBlocks, 0), max(headInodes, 0)
	usedInodes := int64(len(p.byIno)) - 1
	if o.Size == 0 {
		return p.rightSize(headBlocks, usedInodes+headInodes)
	}
	total := o.Size / int64(p.bs)
	if limit := maxBlocks(p.bs); total > limit {
		return nil, fmt.Errorf("laying out the image: size %d is more than the %d bytes ext4 without 64bit and meta_bg holds with %d-byte blocks", o.Size, limit*int64(p.bs), p.bs)
	}
	total = dropRuntGroup(total, p.bs)
	// Like mke2fs, give an explicit size one inode per 16 KiB, but never
	// fewer than the tree needs plus headroom, and fall back to that when
	// the ratio does not fit.
	ratio := o.Size / 16384
	for _, inodes := range []int64{max(ratio, usedInodes+headInodes), usedInodes + headInodes, usedInodes} {
		if l, _ := p.allocate(uint32(total), inodes, uint32(8*p.bs)); l != nil {
			return l, nil
		}
	}
	need, err := p.rightSize(0, usedInodes)
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("laying out the image: the tree needs %d bytes, more than the size %d given", need.Size(), o.Size)
}

// rightSize finds the smallest image that holds everything with
// headBlocks blocks to spare beyond the kernel's reserve (kernelReserve;
// none when headBlocks is zero) and inodes inodes.
//
// Groups have 8 × block size blocks, as mke2fs makes them, unless the
// inodes do not fit: a group holds at most 8 × block size inodes (one
// bitmap block), so a tree of many small or empty files would need more
// groups of full size than its data fills (300,000 empty files: 10 groups,
// 1.1 GiB at 4 KiB blocks, 1 GiB of it free). Such a tree gets as many
// smaller groups (s_blocks_per_group below the maximum, as mke2fs -g
// makes them) as its inodes need, each just big enough for the blocks.
func (p *prepared) rightSize(headBlocks, inodes int64) (*plan, error) {
	full := uint32(8 * p.bs)
	l, err := p.rightSizeGroups(headBlocks, inodes, full)
	if err != nil {
		return nil, err
	}
	spare := l.FreeBlocks - headBlocks - headroomReserve(headBlocks, l.Blocks)
	if spare < minBlocksPerGroup {
		return l, nil // bound by blocks, not inodes
	}
	maxIpg := int64(8 * p.bs)
	groups := (inodes + maxIpg - 1) / maxIpg
	need := l.Blocks - spare - int64(l.fdb)
	bpg := uint32(max(minBlocksPerGroup, (need+groups-1)/groups+7) &^ 7)
	if bpg >= full {
		return l, nil
	}
	small, err := p.rightSizeGroups(headBlocks, inodes, bpg)
	if err != nil || small.Blocks >= l.Blocks {
		return l, nil
	}
	return small, nil
}

// minBlocksPerGroup is the smallest group rightSize makes: e2fsck accepts
// at most inodes-per-block × (blocks per group - 4) inodes in a group, so
// from 2052 blocks on a group can hold its full 8 × block size inodes.
const minBlocksPerGroup = 2056

// maxInodesPerGroup is what a group of bpg blocks may hold: one inode
// bitmap block's worth (the kernel's limit) and e2fsck's
// inodes-per-block × (bpg - 4) (e2fsck/super.c check_super_block).
func maxInodesPerGroup(bs int, bpg uint32) int64 {
	return min(int64(8*bs), int64(bs/inodeSize)*(int64(bpg)-4))
}

// kernelReserve is s_resv_clusters, what the kernel keeps back from
// allocation on an extents filesystem of total blocks:
// min(2 % of the blocks, 4096) (fs/ext4/super.c
// ext4_calculate_resv_clusters). A guest's df shows the free blocks less
// this as available.
func kernelReserve(total int64) int64 { return min(total/50, 4096) }

// headroomReserve is the reserve added on top of a headroom of headBlocks:
// the kernel's when there is headroom, nothing for a content-sized image.
func headroomReserve(headBlocks, total int64) int64 {
	if headBlocks <= 0 {
		return 0
	}
	return kernelReserve(total)
}

// rightSizeGroups iterates the block count up to the smallest that holds
// everything in groups of bpg blocks with headBlocks blocks (and the
// kernel's reserve) to spare.
func (p *prepared) rightSizeGroups(headBlocks, inodes int64, bpg uint32) (*plan, error) {
	total := int64(firstDataBlock(p.bs)) + 4 + p.dataNeed + headBlocks
	limit := maxBlocks(p.bs)
	for range 1000 {
		if total > limit {
			return nil, fmt.Errorf("laying out the image: the tree needs more than the %d bytes ext4 without 64bit and meta_bg holds with %d-byte blocks", limit*int64(p.bs), p.bs)
		}
		want := headBlocks + headroomReserve(headBlocks, total)
		l, need := p.allocate(uint32(total), inodes, bpg)
		if l != nil && l.FreeBlocks >= want {
			return l, nil
		}
		if l != nil {
			need = max(need, total+want-l.FreeBlocks)
		}
		if need <= total {
			need = total + 1
		}
		total = need
	}
	return nil, fmt.Errorf("laying out the image: the size did not converge")
}

// firstDataBlock is s_first_data_block: with 1 KiB blocks, block 0 is
// the boot block and group 0 starts at the superblock in block 1.
func firstDataBlock(bs int) uint32 {
	if bs == 1024 {
		return 1
	}
	return 0
}

// maxBlocks is the most blocks an image of bs-byte blocks can have:
// 2^32-1 without 64bit, and with 1 KiB blocks fewer, so that a backup copy
// of the group descriptors fills at most 3/4 of its group; beyond that
// mke2fs turns on meta_bg (left out here), and the copy would soon overrun
// the group.
func maxBlocks(bs int) int64 {
	fdb, bpg := int64(firstDataBlock(bs)), int64(8*bs)
	groups := bpg * 3 / 4 * int64(bs) / ext4format.GroupDescSize
	return min(1<<32-1, fdb+groups*bpg)
}

// dropRuntGroup shortens a block count whose last group is a backup group
// too small for its superblock, descriptor and reserve copies (and one
// more block), as mke2fs does.
func dropRuntGroup(total int64, bs int) int64 {
	fdb, bpg := int64(firstDataBlock(bs)), int64(8*bs)
	groups := (total - fdb + bpg - 1) / bpg
	last := groups - 1
	gdt := (groups*ext4format.GroupDescSize + int64(bs) - 1) / int64(bs)
	rsv := int64(reservedGDT(uint32(total), bs, uint32(bpg)))
	if last > 0 && ext4format.HasSuperBackup(uint32(last)) && total-(fdb+last*bpg) < 2+gdt+rsv {
		return fdb + last*bpg
	}
	return total
}

// GrowthFactor is how many times its size an image can grow in place
// (ext4patch's Grow, resize2fs, the kernel's online resize) without
// moving metadata: the descriptor blocks it needs are reserved after the
// group descriptors and owned by the resize inode, as mke2fs does for
// 1024 times. 64 times keeps the reserve small (2 blocks per backup
// group for a 64 MiB image with 1 KiB blocks, none at 4 KiB up to
// 256 MiB, where one descriptor block covers 64 times already).
const GrowthFactor = 64

// reservedGDT is s_reserved_gdt_blocks for an image of total blocks in
// groups of bpg.
func reservedGDT(total uint32, bs int, bpg uint32) uint32 {
	return ext4format.ReservedGDTBlocks(uint64(total), firstDataBlock(bs), bpg, bs, ext4format.GroupDescSize, GrowthFactor)
}

// journalBlocks is the journal size for an image of total blocks.
func (p *prepared) journalBlocks(total uint32) uint32 {
	o := p.w.opts
	switch {
	case o.NoJournal:
		return 0
	case o.JournalBlocks > 0:
		return uint32(o.JournalBlocks)
	}
	// ext2fs_default_journal_size (lib/ext2fs/mkjournal.c), but never
	// below JBD2_MIN_JOURNAL_BLOCKS: the journal is on by default even for
	// images mke2fs would leave without one.
	for _, s := range []struct{ below, size uint32 }{
		{32768, 1024}, {256 * 1024, 4096}, {512 * 1024, 8192}, {4096 * 1024, 16384},
		{8192 * 1024, 32768}, {16384 * 1024, 65536}, {32768 * 1024, 131072},
	} {
		if total < s.below {
			return s.size
		}
	}
	return 262144
}
