package ext4format

import (
	"encoding/binary"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// The resize inode (inode 7, COMPAT_RESIZE_INODE) owns the reserved GDT
// blocks that follow the group descriptors in group 0 and their copies in
// every backup group, so that an offline or online resize can turn them
// into descriptor blocks without moving anything. It is a block-mapped
// file (no extents) that uses only its double-indirect block: entry
// (descriptor blocks + i) mod (block size / 4) of that block is the i-th
// reserved block of group 0, and that block, read as an indirect block,
// lists its copies in the backup groups in group order. This is the layout
// e2fsprogs' ext2fs_create_resize_inode (lib/ext2fs/res_gdt.c) writes and
// e2fsck's check_resize_inode (e2fsck/super.c) expects.

// DindBlockIndex is EXT2_DIND_BLOCK, the double-indirect slot of i_block.
const DindBlockIndex = 13

// ResizeInodeSize is the resize inode's i_size: all its double-indirect
// block could map (res_gdt.c).
func ResizeInodeSize(blockSize int) uint64 {
	apb := uint64(blockSize / 4)
	return (apb*apb + apb + 12) * uint64(blockSize)
}

// ReservedGDTBlocks is s_reserved_gdt_blocks for a filesystem of blocks
// blocks that is to grow up to factor times its size (mke2fs reserves for
// 1024: calc_reserved_gdt_blocks in lib/ext2fs/initialize.c): the
// descriptor blocks that many groups need less those it has, at most one
// double-indirect block's worth (blockSize/4) and never past 2^32 blocks.
func ReservedGDTBlocks(blocks uint64, firstDataBlock, blocksPerGroup uint32, blockSize, descSize int, factor uint64) uint32 {
	maxBlocks := uint64(0xffffffff)
	if blocks < maxBlocks/factor {
		maxBlocks = blocks * factor
	}
	perBlock := uint64(blockSize / descSize)
	ceil := func(a, b uint64) uint64 { return (a + b - 1) / b }
	groups := ceil(blocks-uint64(firstDataBlock), uint64(blocksPerGroup))
	rsvGroups := ceil(maxBlocks-uint64(firstDataBlock), uint64(blocksPerGroup))
	rsv := ceil(rsvGroups, perBlock) - ceil(groups, perBlock)
	return uint32(min(rsv, uint64(blockSize/4)))
}

// ResizeLayout is where the resize inode's blocks lie in a filesystem.
type ResizeLayout struct {
	BlockSize      int
	FirstDataBlock uint32
	BlocksPerGroup uint32
	DescBlocks     uint64   // group descriptor blocks in use
	Reserved       uint32   // s_reserved_gdt_blocks
	Backups        []uint32 // the groups past 0 holding a superblock copy
	Dind           uint64   // the double-indirect block
}

// ReservedBlock is the i-th reserved GDT block of group 0.
func (r *ResizeLayout) ReservedBlock(i uint32) uint64 {
	return uint64(r.FirstDataBlock) + 1 + r.DescBlocks + uint64(i)
}

// DindBlock fills b (a block) with the double-indirect block.
func (r *ResizeLayout) DindBlock(b []byte) {
	clear(b)
	apb := uint64(r.BlockSize / 4)
	for i := range r.Reserved {
		binary.LittleEndian.PutUint32(b[4*((r.DescBlocks+uint64(i))%apb):], uint32(r.ReservedBlock(i)))
	}
}

// IndBlock fills b (a block) with reserved block i read as an indirect
// block: its copies in the backup groups.
func (r *ResizeLayout) IndBlock(b []byte, i uint32) {
	clear(b)
	for k, g := range r.Backups {
		binary.LittleEndian.PutUint32(b[4*k:], uint32(r.ReservedBlock(i)+uint64(g)*uint64(r.BlocksPerGroup)))
	}
}

// Blocks is how many blocks the resize inode owns (i_blocks counts them
// in 512-byte units): the double-indirect block, the reserved blocks and
// their copies.
func (r *ResizeLayout) Blocks() uint64 {
	return 1 + uint64(r.Reserved)*uint64(1+len(r.Backups))
}

// ResizeInode fills in the resize inode as mke2fs leaves it: a regular
// file of mode 0600 with one link, times t (seconds and their _extra
// word), no extents and only the double-indirect block.
func (r *ResizeLayout) ResizeInode(n *Inode, t, tExtra uint32) {
	*n = Inode{Mode: unixmode.Regular | 0o600, LinksCount: 1, Atime: t, Ctime: t, Mtime: t, Crtime: t,
		AtimeExtra: tExtra, CtimeExtra: tExtra, MtimeExtra: tExtra, CrtimeExtra: tExtra, ExtraIsize: 32}
	size := ResizeInodeSize(r.BlockSize)
	n.SizeLo, n.SizeHi = uint32(size), uint32(size>>32)
	n.SetBlocks512(r.Blocks() * uint64(r.BlockSize/512))
	binary.LittleEndian.PutUint32(n.Block[4*DindBlockIndex:], uint32(r.Dind))
}
