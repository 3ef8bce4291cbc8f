package ext4img

import (
	"encoding/binary"
	"math/bits"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// superBlock fills b (ext4format.SuperBlockSize bytes) with the superblock as stored in
// group nr.
func (l *plan) superBlock(b []byte, nr uint16) {
	// Superblock times are unsigned seconds, 32 bits plus a high byte;
	// fsTime is never before 1970 (Options.Time).
	t, hi := uint32(l.fsTime.Unix()), uint8(l.fsTime.Unix()>>32)
	sb := ext4format.SuperBlock{
		InodesCount:       l.Inodes,
		BlocksCountLo:     uint32(l.Blocks),
		FreeBlocksCountLo: uint32(l.FreeBlocks),
		FreeInodesCount:   l.FreeInodes,
		FirstDataBlock:    l.fdb,
		LogBlockSize:      uint32(bits.TrailingZeros(uint(l.BlockSize)) - 10),
		LogClusterSize:    uint32(bits.TrailingZeros(uint(l.BlockSize)) - 10),
		BlocksPerGroup:    l.bpg,
		ClustersPerGroup:  l.bpg,
		InodesPerGroup:    l.InodesPerGroup,
		Wtime:             t,
		MaxMntCount:       0xFFFF,
		Magic:             ext4format.SuperMagic,
		State:             ext4format.StateCleanlyUnmounted,
		Errors:            ext4format.ErrorsContinue,
		Lastcheck:         t,
		RevLevel:          ext4format.DynamicRev,
		FirstIno:          firstIno,
		InodeSize:         inodeSize,
		BlockGroupNr:      nr,
		FeatureCompat:     ext4format.CompatExtAttr | ext4format.CompatDirIndex,
		FeatureIncompat:   ext4format.IncompatFiletype | ext4format.IncompatExtents | ext4format.IncompatFlexBG,
		FeatureRoCompat: ext4format.RoCompatSparseSuper | ext4format.RoCompatLargeFile | ext4format.RoCompatHugeFile |
			ext4format.RoCompatDirNlink | ext4format.RoCompatExtraIsize,
		UUID:             l.UUID,
		HashSeed:         l.HashSeed,
		DefHashVersion:   ext4format.HashHalfMD4,
		DefaultMountOpts: ext4format.MountUserXattr | ext4format.MountACL, // as mke2fs
		MkfsTime:         t,
		MinExtraIsize:    extraIsize,
		WantExtraIsize:   extraIsize,
		Flags:            ext4format.FlagsUnsignedHash,
		LogGroupsPerFlex: 4,
		WtimeHi:          hi,
		MkfsTimeHi:       hi,
		LastcheckHi:      hi,
	}
	copy(sb.VolumeName[:], l.opts.Label)
	if l.dind != 0 {
		sb.FeatureCompat |= ext4format.CompatResizeInode
		sb.ReservedGdtBlocks = uint16(l.rsvGDT)
	}
	if l.csum {
		sb.FeatureRoCompat |= ext4format.RoCompatMetadataCsum
		sb.ChecksumType = ext4format.ChecksumCRC32c
	}
	if l.journal != nil {
		sb.FeatureCompat |= ext4format.CompatHasJournal
		sb.JournalInum = ext4format.JournalIno
		sb.JnlBackupType = ext4format.JnlBackupBlocks
		var ib [60]byte
		extentRoot(ib[:], l.journal, l.BlockSize)
		for i := range 15 {
			sb.JnlBlocks[i] = binary.LittleEndian.Uint32(ib[4*i:])
		}
		size := uint64(l.journal.dataBlocks) * uint64(l.BlockSize)
		sb.JnlBlocks[15], sb.JnlBlocks[16] = uint32(size>>32), uint32(size)
	}
	sb.Marshal(b)
	if l.csum {
		sb.Checksum = ext4format.SuperBlockChecksum(b)
		sb.Marshal(b)
	}
}

// resizeLayout is where the resize inode's blocks lie.
func (l *plan) resizeLayout() *ext4format.ResizeLayout {
	return &ext4format.ResizeLayout{BlockSize: l.BlockSize, FirstDataBlock: l.fdb, BlocksPerGroup: l.bpg,
		DescBlocks: uint64(l.gdtBlocks), Reserved: l.rsvGDT, Backups: l.backups, Dind: uint64(l.dind)}
}

// groupDescs fills b with the group descriptor table.
func (l *plan) groupDescs(b []byte) {
	var bitmap []byte
	if l.csum {
		bitmap = make([]byte, l.BlockSize)
	}
	for g, gp := range l.groups {
		gd := ext4format.GroupDesc{
			BlockBitmapLo:     gp.blockBitmap,
			InodeBitmapLo:     gp.inodeBitmap,
			InodeTableLo:      gp.inodeTable,
			FreeBlocksCountLo: uint16(gp.freeBlocks),
			FreeInodesCountLo: uint16(gp.freeInodes),
			UsedDirsCountLo:   uint16(gp.usedDirs),
		}
		d := b[g*ext4format.GroupDescSize : (g+1)*ext4format.GroupDescSize]
		if l.csum {
			// Flags and itable_unused as e2fsprogs' ext2fs_set_gdt_csum
			// sets them (e2fsck would rewrite anything else); the inode
			// tables are zero, so the kernel need not zero them again.
			gd.Flags = ext4format.BgInodeZeroed
			if gp.freeBlocks == l.bpg && g != len(l.groups)-1 {
				gd.Flags |= ext4format.BgBlockUninit
			}
			gd.ItableUnusedLo = uint16(gp.freeInodes) // inodes are used from the start of a group
			if gp.freeInodes == l.InodesPerGroup {
				gd.Flags |= ext4format.BgInodeUninit
			}
			gd.BlockBitmapCsumLo = uint16(ext4format.CRC32c(l.csumSeed, l.blockBitmap(bitmap, g)[:l.bpg/8]))
			gd.InodeBitmapCsumLo = uint16(ext4format.CRC32c(l.csumSeed, l.inodeBitmap(bitmap, g)[:l.InodesPerGroup/8]))
			gd.Marshal(d)
			gd.Checksum = ext4format.GroupDescChecksum(l.csumSeed, uint32(g), d)
		}
		gd.Marshal(d)
	}
}

// setBits sets bits [from, to) of bitmap b.
func setBits(b []byte, from, to uint32) {
	for ; from < to && from%8 != 0; from++ {
		b[from/8] |= 1 << (from % 8)
	}
	for ; from+8 <= to; from += 8 {
		b[from/8] = 0xff
	}
	for ; from < to; from++ {
		b[from/8] |= 1 << (from % 8)
	}
}

func clearBits(b []byte, from, to uint32) {
	for ; from < to; from++ {
		b[from/8] &^= 1 << (from % 8)
	}
}

// blockBitmap fills b with group g's block bitmap; blocks past the end of
// the filesystem and bits past the group's blocks are set (padding).
func (l *plan) blockBitmap(b []byte, g int) []byte {
	clear(b)
	gs := l.fdb + uint32(g)*l.bpg
	inside := min(l.bpg, uint32(l.Blocks)-gs) // not gs+bpg: it overflows at 2^32 blocks
	rel := func(x uint32) uint32 { return min(max(x, gs)-gs, inside) }
	setBits(b, 0, rel(l.end))
	for _, r := range l.gaps {
		clearBits(b, rel(r.start), rel(r.start+r.len))
	}
	for _, r := range l.reserved {
		setBits(b, rel(r.start), rel(r.start+r.len))
	}
	setBits(b, inside, uint32(len(b))*8) // past the group too, as e2fsprogs and the kernel pad
	return b
}

// inodeBitmap fills b with group g's inode bitmap; bits past
// s_inodes_per_group are set (padding).
func (l *plan) inodeBitmap(b []byte, g int) []byte {
	clear(b)
	first := uint32(g)*l.InodesPerGroup + 1
	if l.lastIno >= first {
		setBits(b, 0, min(l.lastIno-first+1, l.InodesPerGroup))
	}
	setBits(b, l.InodesPerGroup, uint32(len(b))*8)
	return b
}
