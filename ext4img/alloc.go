package ext4img

import (
	"io/fs"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// allocator hands out blocks from a cursor that only moves forward,
// stepping over the superblock and GDT copies of backup groups.
type allocator struct {
	l        *plan
	maxLen   uint32 // longest extent
	cur      uint32
	next     int // index of the next reserved region at or after cur
	overflow bool
}

// skip moves cur past a reserved region it sits in, recording the region.
func (a *allocator) skip() {
	for a.next < len(a.l.reserved) && a.cur >= a.l.reserved[a.next].start {
		r := a.l.reserved[a.next]
		if a.cur < r.start+r.len {
			a.cur = r.start + r.len
		}
		a.next++
	}
}

// room is how many blocks follow cur before the next reserved region.
func (a *allocator) room() uint32 {
	if a.next < len(a.l.reserved) {
		return a.l.reserved[a.next].start - a.cur
	}
	return ^uint32(0) - a.cur
}

// contiguous allocates n blocks in one piece, leaving a gap before a
// reserved region that would split them.
func (a *allocator) contiguous(n uint32) uint32 {
	a.skip()
	if a.room() < n {
		a.l.gaps = append(a.l.gaps, run{a.cur, a.room()})
		a.cur += a.room()
		a.skip()
	}
	s := a.cur
	a.bump(n)
	return s
}

func (a *allocator) bump(n uint32) {
	if uint64(a.cur)+uint64(n) >= 1<<32 {
		a.overflow = true
		return
	}
	a.cur += n
}

// runs allocates n blocks as extents of at most ext4format.InitMaxLen, appended
// to rs.
func (a *allocator) runs(rs []run, n uint32) []run {
	for n > 0 {
		a.skip()
		k := min(n, a.room(), a.maxLen)
		if k == 0 {
			a.overflow = true
			return rs
		}
		rs = append(rs, run{a.cur, k})
		a.bump(k)
		n -= k
		if a.overflow {
			return rs
		}
	}
	return rs
}

// treeShape returns the number of extent tree blocks per level (leaves
// first) for n extents: four fit in i_block, more need leaf blocks of
// (bs-12)/12 extents each, and index levels above while more than four
// blocks remain at a level.
func treeShape(n, bs int) []int {
	per := (bs - 12) / 12
	var levels []int
	for n > 4 {
		n = (n + per - 1) / per
		levels = append(levels, n)
	}
	return levels
}

// allocate lays out an image of total blocks in groups of bpg blocks
// with at least inodes inodes. It returns nil and the block count worth
// trying next when that does not fit.
func (p *prepared) allocate(total uint32, inodes int64, bpg uint32) (*plan, int64) {
	bs := uint32(p.bs)
	l := &plan{Layout: Layout{BlockSize: p.bs, Blocks: int64(total)}, fdb: firstDataBlock(p.bs), bpg: bpg, byIno: p.byIno, plans: p.plans, opts: p.w.opts, fsTime: p.w.opts.fsTime()}
	if total <= l.fdb+8 {
		return nil, int64(l.fdb) + 9
	}
	// In 64 bits: near 2^32 blocks, total+bpg-1 does not fit 32.
	groups := uint32((uint64(total) - uint64(l.fdb) + uint64(l.bpg) - 1) / uint64(l.bpg))
	l.Groups = int(groups)
	l.gdtBlocks = (groups*ext4format.GroupDescSize + bs - 1) / bs
	l.rsvGDT = reservedGDT(total, p.bs, bpg)

	// Inodes per group: a multiple of 8 (bitmap bytes) and of the inodes in
	// a block, at most maxInodesPerGroup.
	align := max(uint32(8), bs/inodeSize)
	perGroup := (inodes + int64(groups) - 1) / int64(groups)
	ipg := (perGroup + int64(align) - 1) / int64(align) * int64(align)
	if maxIpg := maxInodesPerGroup(p.bs, bpg); ipg > maxIpg || ipg*int64(groups) >= 1<<32 {
		need := (inodes + maxIpg - 1) / maxIpg
		return nil, int64(l.fdb) + (need-1)*int64(l.bpg) + 64
	}
	l.InodesPerGroup = uint32(ipg)
	l.Inodes = uint32(ipg) * groups
	l.itb = uint32(ipg) * inodeSize / bs

	for g := uint32(1); g < groups; g++ {
		if ext4format.HasSuperBackup(g) {
			r := run{l.fdb + g*l.bpg, 1 + l.gdtBlocks + l.rsvGDT}
			if r.start+r.len > total {
				return nil, int64(r.start + r.len + 1)
			}
			l.backups = append(l.backups, g)
			l.reserved = append(l.reserved, r)
		}
	}
	a := &allocator{l: l, cur: l.fdb + 1 + l.gdtBlocks + l.rsvGDT, maxLen: ext4format.InitMaxLen}
	if p.w.maxExtent > 0 {
		a.maxLen = p.w.maxExtent
	}
	for _, list := range p.xblocks {
		for _, x := range list {
			x.block = 0
		}
	}

	// 1. Bitmaps and inode tables of all groups, flex_bg style, then the
	// resize inode's double-indirect block.
	l.groups = make([]groupPlan, groups)
	for g := range l.groups {
		l.groups[g].blockBitmap = a.contiguous(1)
	}
	for g := range l.groups {
		l.groups[g].inodeBitmap = a.contiguous(1)
	}
	for g := range l.groups {
		l.groups[g].inodeTable = a.contiguous(l.itb)
	}
	for _, r := range l.reserved {
		l.segs = append(l.segs, segment{start: r.start, len: r.len, kind: segBackup})
	}
	for g, gp := range l.groups {
		l.segs = append(l.segs,
			segment{start: gp.blockBitmap, len: 1, kind: segBlockBitmap, idx: g},
			segment{start: gp.inodeBitmap, len: 1, kind: segInodeBitmap, idx: g},
			segment{start: gp.inodeTable, len: l.itb, kind: segInodeTable, idx: g})
	}
	for i, g := range l.backups {
		l.segs[i].idx = int(g)
	}
	if l.rsvGDT > 0 {
		l.dind = a.contiguous(1)
		l.segs = append(l.segs, segment{start: l.dind, len: 1, kind: segResize})
	}

	// 2. The journal.
	if jb := p.journalBlocks(total); jb > 0 {
		l.JournalBlocks = int(jb)
		l.journal = &inodePlan{dataBlocks: jb}
		p.allocInode(a, l, nil, l.journal)
	}

	// 3. Every inode's xattr block, data and extent tree, in inode order.
	for ino, n := range p.byIno {
		if n != nil {
			p.allocInode(a, l, n, &p.plans[ino])
		}
	}
	if a.overflow {
		return nil, 1 << 32
	}
	a.skip()
	l.end = a.cur
	if l.end > total {
		return nil, int64(l.end)
	}
	l.count(p)
	return l, 0
}

// allocInode places one inode's blocks (xattr block, data, extent tree,
// in that order); n is nil for the journal. Only the block bitmaps,
// inode tables and backups are kept as segments: the inodes' blocks
// follow the cursor, so eachInodeSegment finds them again in order.
func (p *prepared) allocInode(a *allocator, l *plan, n *node, pl *inodePlan) {
	if x := pl.extra().xblk; x != nil && x.block == 0 {
		x.block, x.owner = a.contiguous(1), n.ino
		l.xblocks = append(l.xblocks, x)
	}
	if pl.dataBlocks == 0 {
		if pl.more != nil {
			pl.more.runs, pl.more.tree, pl.more.treeLevels = nil, nil, nil
		}
		return
	}
	var one [1]run
	runs := a.runs(one[:0], pl.dataBlocks)
	if len(runs) == 1 {
		pl.start = runs[0].start // its length is dataBlocks
		if pl.more != nil {
			pl.more.runs = nil
		}
	} else {
		pl.ensureMore().runs = runs
	}
	levels := treeShape(len(runs), p.bs)
	if levels == nil {
		if pl.more != nil {
			pl.more.tree, pl.more.treeLevels = nil, nil
		}
		return
	}
	m := pl.ensureMore()
	m.treeLevels, m.tree = levels, m.tree[:0]
	for _, c := range levels {
		for range c {
			m.tree = append(m.tree, a.contiguous(1))
		}
	}
}

// eachInodeSegment calls f with the journal's and every inode's blocks in
// on-disk order, as allocInode placed them.
func (l *plan) eachInodeSegment(f func(segment) error) error {
	one := func(n *node, ino uint32, pl *inodePlan) error {
		m := pl.extra()
		if m.xblk != nil && m.xblk.owner == ino {
			if err := f(segment{start: m.xblk.block, len: 1, kind: segXattr, x: m.xblk}); err != nil {
				return err
			}
		}
		for i, r := range pl.runs() {
			if err := f(segment{start: r.start, len: r.len, kind: segData, idx: i, n: n}); err != nil {
				return err
			}
		}
		for i, b := range m.tree {
			if err := f(segment{start: b, len: 1, kind: segTree, idx: i, n: n}); err != nil {
				return err
			}
		}
		return nil
	}
	if l.journal != nil {
		if err := one(nil, ext4format.JournalIno, l.journal); err != nil {
			return err
		}
	}
	for ino, n := range l.byIno {
		if n != nil {
			if err := one(n, uint32(ino), &l.plans[ino]); err != nil {
				return err
			}
		}
	}
	return nil
}

// usedBlocks counts the allocated blocks in [lo, hi).
func (l *plan) usedBlocks(lo, hi uint32) uint32 {
	if hi <= lo {
		return 0
	}
	used := uint32(0)
	if e := min(hi, l.end); e > lo {
		used = e - lo
	}
	for _, g := range l.gaps {
		s, e := max(g.start, lo), min(g.start+g.len, hi)
		if e > s {
			used -= e - s
		}
	}
	for _, r := range l.reserved {
		s, e := max(r.start, lo, l.end), min(r.start+r.len, hi)
		if e > s {
			used += e - s
		}
	}
	return used
}

// count fills in the free block and inode counts, per group and in total.
func (l *plan) count(p *prepared) {
	l.lastIno = uint32(len(p.byIno) - 1)
	total := uint32(l.Blocks)
	var freeBlocks int64
	for g := range l.groups {
		gs := l.fdb + uint32(g)*l.bpg
		ge := gs + min(l.bpg, total-gs) // gs+bpg overflows in the last group of 2^32 blocks
		gp := &l.groups[g]
		gp.freeBlocks = ge - gs - l.usedBlocks(gs, ge)
		freeBlocks += int64(gp.freeBlocks)
		first := uint32(g)*l.InodesPerGroup + 1
		used := uint32(0)
		if l.lastIno >= first {
			used = min(l.lastIno-first+1, l.InodesPerGroup)
		}
		gp.freeInodes = l.InodesPerGroup - used
		gp.usedDirs = 0
	}
	for ino, n := range p.byIno {
		if n != nil && n.mode.Type() == fs.ModeDir {
			l.groups[uint32(ino-1)/l.InodesPerGroup].usedDirs++
		}
	}
	l.FreeBlocks = freeBlocks
	l.AvailableBlocks = max(0, freeBlocks-kernelReserve(l.Blocks))
	l.FreeInodes = l.Inodes - l.lastIno
	l.UUID, l.HashSeed = p.uuid, p.seed
	l.dirGeom, l.csum, l.csumSeed = p.dirGeom, p.dirGeom.Csum, ext4format.UUIDSeed(p.uuid)
}
