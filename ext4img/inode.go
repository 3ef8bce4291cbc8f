package ext4img

import (
	"encoding/binary"
	"io/fs"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
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

// encodeTime splits t, clamped (ClampTime), into the 32-bit seconds field
// and the _extra field: two epoch bits extending the seconds to 34 bits,
// then nanoseconds.
func encodeTime(t time.Time) (uint32, uint32) {
	t, _ = ClampTime(t)
	sec, nsec := t.Unix(), uint32(t.Nanosecond())
	epoch := uint32((sec-int64(int32(sec)))>>32) & 3
	return uint32(int32(sec)), epoch | nsec<<2
}

// encodeDev stores a device number in i_block as the kernel does: the old
// 16-bit encoding in i_block[0] when both numbers are below 256, otherwise
// the new 32-bit one in i_block[1] (ext4_inode's old_encode_dev /
// new_encode_dev).
func encodeDev(b []byte, major, minor uint32) {
	if major < 256 && minor < 256 {
		binary.LittleEndian.PutUint32(b[0:], major<<8|minor)
		return
	}
	binary.LittleEndian.PutUint32(b[4:], minor&0xff|major<<8|(minor&^0xff)<<12)
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
		extentHeader{Entries: uint16(len(runs)), Max: 4}.marshal(b)
		starts := logicalStarts(runs)
		for i, r := range runs {
			extent{Block: starts[i], Len: uint16(r.len), Start: r.start}.marshal(b[12+12*i:])
		}
		return
	}
	top := m.treeLevels[depth-1]
	extentHeader{Entries: uint16(top), Max: 4, Depth: uint16(depth)}.marshal(b)
	writeIndexEntries(b[12:], pl, bs, depth, 0, top)
}

// writeIndexEntries writes index entries pointing at tree blocks
// [first, first+count) of level-1 (the level below the one written to).
func writeIndexEntries(b []byte, pl *inodePlan, bs, level, first, count int) {
	per := (bs - 12) / 12
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
		extentIdx{Block: starts[j*span], Leaf: m.tree[base+j]}.marshal(b[12*i:])
	}
}

// extentTreeBlock returns tree block k of pl (leaves first, then index
// levels, as allocated).
func extentTreeBlock(buf []byte, pl *inodePlan, k, bs int) {
	clear(buf)
	per := (bs - 12) / 12
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
		extentHeader{Entries: uint16(hi - lo), Max: uint16(per)}.marshal(buf)
		for i := lo; i < hi; i++ {
			r := runs[i]
			extent{Block: starts[i], Len: uint16(r.len), Start: r.start}.marshal(buf[12+12*(i-lo):])
		}
		return
	}
	below := m.treeLevels[level-1]
	lo, hi := j*per, min((j+1)*per, below)
	extentHeader{Entries: uint16(hi - lo), Max: uint16(per), Depth: uint16(level)}.marshal(buf)
	writeIndexEntries(buf[12:], pl, bs, level, lo, hi-lo)
}

// encodeInode fills b (inodeSize bytes, zeroed) with inode ino.
func (l *plan) encodeInode(ino uint32, b []byte) {
	var in inode
	var pl *inodePlan
	if ino == journalIno && l.journal != nil {
		pl = l.journal
		s, x := encodeTime(l.fsTime)
		in = inode{Mode: unixmode.Regular | 0o600, LinksCount: 1, Atime: s, Ctime: s, Mtime: s, Crtime: s,
			AtimeExtra: x, CtimeExtra: x, MtimeExtra: x, CrtimeExtra: x}
		size := uint64(pl.dataBlocks) * uint64(l.BlockSize)
		in.SizeLo, in.SizeHigh = uint32(size), uint32(size>>32)
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
		in = inode{
			Mode: uint16(unixmode.Encode(n.mode)), UIDLo: uint16(n.uid), UIDHigh: uint16(n.uid >> 16),
			GIDLo: uint16(n.gid), GIDHigh: uint16(n.gid >> 16),
			Atime: s, Ctime: s, Mtime: s, Crtime: s,
			AtimeExtra: x, CtimeExtra: x, MtimeExtra: x, CrtimeExtra: x,
			Xattrs: pl.extra().xin,
		}
		links := n.nlink
		if n.mode.IsDir() && links > linkMax {
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
				in.Flags |= inodeFlagIndex
			}
		case fs.ModeSymlink:
			size = uint64(len(n.linkname()))
			if pl.dataBlocks == 0 {
				copy(in.Block[:], n.linkname())
			}
		case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
			encodeDev(in.Block[:], n.extra().devmajor, n.extra().devminor)
		}
		in.SizeLo, in.SizeHigh = uint32(size), uint32(size>>32)
		if x := pl.extra().xblk; x != nil {
			in.FileACLLo = x.block
		}
		if ft := n.mode.Type(); ft != 0 && ft != fs.ModeDir && !(ft == fs.ModeSymlink && pl.dataBlocks > 0) {
			pl = nil // no extent tree: fast symlink, device, FIFO, socket
		}
	}
	var sectors uint64
	if pl != nil {
		in.Flags |= inodeFlagExtents
		extentRoot(in.Block[:], pl, l.BlockSize)
		sectors = uint64(pl.dataBlocks) + uint64(len(pl.extra().tree))
	}
	if in.FileACLLo != 0 {
		sectors++
	}
	sectors *= uint64(l.BlockSize / 512)
	in.BlocksLo, in.BlocksHigh = uint32(sectors), uint16(sectors>>32)
	in.ExtraIsize = extraIsize
	in.marshal(b)
	if l.csum {
		setInodeCsum(b, l.csumSeed, ino)
	}
}
