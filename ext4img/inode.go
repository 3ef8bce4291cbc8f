package ext4img

import (
	"io/fs"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// The inodes the writer makes.
const (
	inodeSize     = 256
	extraIsize    = 32 // i_extra_isize: covers the fields up to i_projid
	xattrsAt      = ext4format.GoodOldInodeSize + extraIsize
	firstIno      = ext4format.GoodOldFirstIno // s_first_ino: 1..10 are reserved
	lostFoundIno  = firstIno
	maxSymlinkLen = 4095 // PATH_MAX less the NUL
)

// Limits of the times an inode holds (inodes.rst, "Inode Timestamps"):
// 32-bit signed seconds extended by two epoch bits, so 1901-12-13 to
// 2446-05-10; and e2fsck's window (pass 1, "Timestamp(s) on inode beyond
// 2310-04-04 are likely pre-1970"): epoch bits 3 with the sign bit set look
// to it like a pre-1970 date that old kernels mis-encoded, and it rewrites
// them, so such an image would not be fsck-clean.
var (
	minTime         = time.Unix(-1<<31, 0).UTC()                // 1901-12-13 20:45:52 UTC
	maxTime         = time.Unix(1<<31-1+3<<32, 999999999).UTC() // 2446-05-10 22:38:55.999999999 UTC
	fsckWindowStart = time.Unix(3<<32-1<<31, 0).UTC()           // 2310-04-04 04:36:16 UTC
	fsckWindowEnd   = time.Unix(3<<32, 0).UTC()                 // 2378-04-22 12:56:32 UTC
)

// ClampTime returns t as the image stores it and whether that differs
// from t: times before 1901-12-13 20:45:52 UTC become that, times after
// 2446-05-10 22:38:55.999999999 UTC become that, and times from
// 2310-04-04 04:36:16 up to 2378-04-22 12:56:32 UTC (which e2fsck 1.47
// rewrites) become the last nanosecond before that window. The Writer
// applies it to every entry's ModTime and to Options.Time, and counts the
// entries it changed in Layout.ClampedTimes, so that callers can warn.
func ClampTime(t time.Time) (time.Time, bool) {
	switch {
	case t.Before(minTime):
		return minTime, true
	case t.After(maxTime):
		return maxTime, true
	case !t.Before(fsckWindowStart) && t.Before(fsckWindowEnd):
		return fsckWindowStart.Add(-1), true
	}
	return t, false
}

// encodeTime is t, clamped (ClampTime), as an inode's seconds and _extra
// fields.
func encodeTime(t time.Time) (uint32, uint32) {
	t, _ = ClampTime(t)
	return ext4format.EncodeTime(t)
}

// logicalStarts returns the first logical block of each run.
func logicalStarts(runs []run) []uint32 {
	s := make([]uint32, len(runs))
	var at uint32
	for i, r := range runs {
		s[i] = at
		at += r.len
	}
	return s
}

// extentRoot fills i_block with the root of pl's extent tree.
func extentRoot(b []byte, pl *inodePlan, bs int) {
	runs := pl.runs()
	m := pl.extra()
	depth := len(m.treeLevels)
	if depth == 0 {
		extentHeader(uint16(len(runs)), rootExtents, 0).Marshal(b)
		writeExtents(b[extentHdr:], runs, logicalStarts(runs), 0, len(runs))
		return
	}
	top := m.treeLevels[depth-1]
	extentHeader(uint16(top), rootExtents, uint16(depth)).Marshal(b)
	writeIndexEntries(b[extentHdr:], pl, bs, depth, 0, top)
}

// Extent tree nodes: a header, then entries (ifork.rst).
const (
	extentHdr   = ext4format.ExtentHeaderSize
	extentEntry = ext4format.ExtentEntrySize
	rootExtents = (60 - extentHdr) / extentEntry // entries in i_block
)

func extentHeader(entries, max, depth uint16) ext4format.ExtentHeader {
	return ext4format.ExtentHeader{Magic: ext4format.ExtentMagic, Entries: entries, Max: max, Depth: depth}
}

// writeExtents writes leaf entries for runs[lo:hi] to b.
func writeExtents(b []byte, runs []run, starts []uint32, lo, hi int) {
	for i := lo; i < hi; i++ {
		r := runs[i]
		ext4format.Extent{Block: starts[i], Len: uint16(r.len), StartLo: r.start}.Marshal(b[extentEntry*(i-lo):])
	}
}

// writeIndexEntries writes index entries pointing at tree blocks
// [first, first+count) of level-1 (the level below the one written to).
func writeIndexEntries(b []byte, pl *inodePlan, bs, level, first, count int) {
	per := (bs - extentHdr) / extentEntry
	starts := logicalStarts(pl.runs())
	m := pl.extra()
	base := 0
	for _, c := range m.treeLevels[:level-1] {
		base += c
	}
	span := 1 // extents under one block of level-1
	for range level {
		span *= per
	}
	for i := range count {
		j := first + i
		ext4format.ExtentIdx{Block: starts[j*span], LeafLo: m.tree[base+j]}.Marshal(b[extentEntry*i:])
	}
}

// extentTreeBlock returns tree block k of pl (leaves first, then index
// levels, as allocated).
func extentTreeBlock(buf []byte, pl *inodePlan, k, bs int) {
	clear(buf)
	per := (bs - extentHdr) / extentEntry
	m := pl.extra()
	level, j := 0, k
	for j >= m.treeLevels[level] {
		j -= m.treeLevels[level]
		level++
	}
	if level == 0 {
		runs := pl.runs()
		starts := logicalStarts(runs)
		lo, hi := j*per, min((j+1)*per, len(runs))
		extentHeader(uint16(hi-lo), uint16(per), 0).Marshal(buf)
		writeExtents(buf[extentHdr:], runs, starts, lo, hi)
		return
	}
	below := m.treeLevels[level-1]
	lo, hi := j*per, min((j+1)*per, below)
	extentHeader(uint16(hi-lo), uint16(per), uint16(level)).Marshal(buf)
	writeIndexEntries(buf[extentHdr:], pl, bs, level, lo, hi-lo)
}

// encodeInode fills b (inodeSize bytes, zeroed) with inode ino.
func (l *plan) encodeInode(ino uint32, b []byte) {
	b = b[:inodeSize]
	var in ext4format.Inode
	var pl *inodePlan
	var xattrs []byte
	var sectors uint64
	if ino == ext4format.ResizeIno && l.dind != 0 {
		s, x := encodeTime(l.fsTime)
		rl := l.resizeLayout()
		rl.ResizeInode(&in, s, x)
		sectors = rl.Blocks()
	} else if ino == ext4format.JournalIno && l.journal != nil {
		pl = l.journal
		s, x := encodeTime(l.fsTime)
		in = ext4format.Inode{Mode: unixmode.Regular | 0o600, LinksCount: 1, Atime: s, Ctime: s, Mtime: s, Crtime: s,
			AtimeExtra: x, CtimeExtra: x, MtimeExtra: x, CrtimeExtra: x}
		size := uint64(pl.dataBlocks) * uint64(l.BlockSize)
		in.SizeLo, in.SizeHi = uint32(size), uint32(size>>32)
	} else {
		if int(ino) >= len(l.byIno) || l.byIno[ino] == nil {
			return
		}
		n := l.byIno[ino]
		pl = &l.plans[ino]
		t := n.modTime()
		if t.IsZero() {
			t = l.fsTime
		}
		s, x := encodeTime(t)
		in = ext4format.Inode{
			Mode: uint16(unixmode.Encode(n.mode)), UIDLo: uint16(n.uid), UIDHi: uint16(n.uid >> 16),
			GIDLo: uint16(n.gid), GIDHi: uint16(n.gid >> 16),
			Atime: s, Ctime: s, Mtime: s, Crtime: s,
			AtimeExtra: x, CtimeExtra: x, MtimeExtra: x, CrtimeExtra: x,
		}
		xattrs = pl.extra().xin
		links := n.nlink
		if n.mode.IsDir() && links > ext4format.LinkMax {
			links = 1 // dir_nlink: too many subdirectories to count
		}
		in.LinksCount = uint16(links)
		var size uint64
		switch n.mode.Type() {
		case 0:
			size = uint64(n.size)
		case fs.ModeDir:
			size = uint64(pl.dataBlocks) * uint64(l.BlockSize)
			if pl.extra().htree != nil {
				in.Flags |= ext4format.InodeFlagIndex
			}
		case fs.ModeSymlink:
			size = uint64(len(n.linkname()))
			if pl.dataBlocks == 0 {
				copy(in.Block[:], n.linkname())
			}
		case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
			ext4format.EncodeDevice(&in.Block, n.extra().devmajor, n.extra().devminor)
		}
		in.SizeLo, in.SizeHi = uint32(size), uint32(size>>32)
		if x := pl.extra().xblk; x != nil {
			in.FileACLLo = x.block
		}
		if ft := n.mode.Type(); ft != 0 && ft != fs.ModeDir && !(ft == fs.ModeSymlink && pl.dataBlocks > 0) {
			pl = nil // no extent tree: fast symlink, device, FIFO, socket
		}
	}
	if pl != nil {
		in.Flags |= ext4format.InodeFlagExtents
		extentRoot(in.Block[:], pl, l.BlockSize)
		sectors = uint64(pl.dataBlocks) + uint64(len(pl.extra().tree))
	}
	if in.FileACLLo != 0 {
		sectors++
	}
	sectors *= uint64(l.BlockSize / 512)
	in.BlocksLo, in.BlocksHi = uint32(sectors), uint16(sectors>>32)
	in.ExtraIsize = extraIsize
	in.Marshal(b)
	copy(b[xattrsAt:inodeSize], xattrs)
	if l.csum {
		in.SetChecksum(ext4format.InodeChecksum(ext4format.InodeSeed(l.csumSeed, ino, 0), b[:inodeSize]))
		in.Marshal(b)
	}
}
