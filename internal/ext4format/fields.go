package ext4format

// The fields split into _lo and _hi halves, joined. The _hi halves are
// zero in a 32-byte group descriptor and count only with 64bit, so a
// caller reading an image without it must not have set them.

// BlocksCount is s_blocks_count.
func (s *SuperBlock) BlocksCount() uint64 {
	return uint64(s.BlocksCountLo) | uint64(s.BlocksCountHi)<<32
}

// SetBlocksCount sets s_blocks_count.
func (s *SuperBlock) SetBlocksCount(n uint64) {
	s.BlocksCountLo, s.BlocksCountHi = uint32(n), uint32(n>>32)
}

// RBlocksCount is s_r_blocks_count, the blocks reserved for root.
func (s *SuperBlock) RBlocksCount() uint64 {
	return uint64(s.RBlocksCountLo) | uint64(s.RBlocksCountHi)<<32
}

// SetRBlocksCount sets s_r_blocks_count.
func (s *SuperBlock) SetRBlocksCount(n uint64) {
	s.RBlocksCountLo, s.RBlocksCountHi = uint32(n), uint32(n>>32)
}

// FreeBlocks is s_free_blocks_count.
func (s *SuperBlock) FreeBlocks() uint64 {
	return uint64(s.FreeBlocksCountLo) | uint64(s.FreeBlocksCountHi)<<32
}

// SetFreeBlocks sets s_free_blocks_count.
func (s *SuperBlock) SetFreeBlocks(n uint64) {
	s.FreeBlocksCountLo, s.FreeBlocksCountHi = uint32(n), uint32(n>>32)
}

// BlockBitmap is bg_block_bitmap.
func (g *GroupDesc) BlockBitmap() uint64 {
	return uint64(g.BlockBitmapLo) | uint64(g.BlockBitmapHi)<<32
}

// InodeBitmap is bg_inode_bitmap.
func (g *GroupDesc) InodeBitmap() uint64 {
	return uint64(g.InodeBitmapLo) | uint64(g.InodeBitmapHi)<<32
}

// InodeTable is bg_inode_table.
func (g *GroupDesc) InodeTable() uint64 {
	return uint64(g.InodeTableLo) | uint64(g.InodeTableHi)<<32
}

// SetTables sets bg_block_bitmap, bg_inode_bitmap and bg_inode_table.
func (g *GroupDesc) SetTables(blockBitmap, inodeBitmap, inodeTable uint64) {
	g.BlockBitmapLo, g.BlockBitmapHi = uint32(blockBitmap), uint32(blockBitmap>>32)
	g.InodeBitmapLo, g.InodeBitmapHi = uint32(inodeBitmap), uint32(inodeBitmap>>32)
	g.InodeTableLo, g.InodeTableHi = uint32(inodeTable), uint32(inodeTable>>32)
}

// FreeBlocks is bg_free_blocks_count.
func (g *GroupDesc) FreeBlocks() uint32 {
	return uint32(g.FreeBlocksCountLo) | uint32(g.FreeBlocksCountHi)<<16
}

// SetFreeBlocks sets bg_free_blocks_count.
func (g *GroupDesc) SetFreeBlocks(n uint32) {
	g.FreeBlocksCountLo, g.FreeBlocksCountHi = uint16(n), uint16(n>>16)
}

// FreeInodes is bg_free_inodes_count.
func (g *GroupDesc) FreeInodes() uint32 {
	return uint32(g.FreeInodesCountLo) | uint32(g.FreeInodesCountHi)<<16
}

// SetFreeInodes sets bg_free_inodes_count.
func (g *GroupDesc) SetFreeInodes(n uint32) {
	g.FreeInodesCountLo, g.FreeInodesCountHi = uint16(n), uint16(n>>16)
}

// UsedDirs is bg_used_dirs_count.
func (g *GroupDesc) UsedDirs() uint32 {
	return uint32(g.UsedDirsCountLo) | uint32(g.UsedDirsCountHi)<<16
}

// SetUsedDirs sets bg_used_dirs_count.
func (g *GroupDesc) SetUsedDirs(n uint32) {
	g.UsedDirsCountLo, g.UsedDirsCountHi = uint16(n), uint16(n>>16)
}

// ItableUnused is bg_itable_unused.
func (g *GroupDesc) ItableUnused() uint32 {
	return uint32(g.ItableUnusedLo) | uint32(g.ItableUnusedHi)<<16
}

// SetItableUnused sets bg_itable_unused.
func (g *GroupDesc) SetItableUnused(n uint32) {
	g.ItableUnusedLo, g.ItableUnusedHi = uint16(n), uint16(n>>16)
}

// SetBitmapChecksums sets bg_block_bitmap_csum and bg_inode_bitmap_csum
// (metadata_csum; the _hi halves only in a descriptor of 64 bytes or more).
func (g *GroupDesc) SetBitmapChecksums(block, inode uint32, descSize int) {
	g.BlockBitmapCsumLo, g.InodeBitmapCsumLo = uint16(block), uint16(inode)
	if descSize >= GroupDesc64Size {
		g.BlockBitmapCsumHi, g.InodeBitmapCsumHi = uint16(block>>16), uint16(inode>>16)
	}
}

// Inode sizes, block counts and owners joined from their halves.

// FileSize is i_size.
func (n *Inode) FileSize() uint64 { return uint64(n.SizeLo) | uint64(n.SizeHi)<<32 }

// SetFileSize sets i_size.
func (n *Inode) SetFileSize(s uint64) { n.SizeLo, n.SizeHi = uint32(s), uint32(s>>32) }

// Blocks512 is i_blocks in 512-byte units (an inode without
// EXT4_HUGE_FILE_FL).
func (n *Inode) Blocks512() uint64 { return uint64(n.BlocksLo) | uint64(n.BlocksHi)<<32 }

// SetBlocks512 sets i_blocks in 512-byte units.
func (n *Inode) SetBlocks512(b uint64) { n.BlocksLo, n.BlocksHi = uint32(b), uint16(b>>32) }

// FileACL is i_file_acl, the xattr block or 0.
func (n *Inode) FileACL() uint64 { return uint64(n.FileACLLo) | uint64(n.FileACLHi)<<32 }

// SetOwner sets i_uid and i_gid with their high halves.
func (n *Inode) SetOwner(uid, gid uint32) {
	n.UIDLo, n.UIDHi, n.GIDLo, n.GIDHi = uint16(uid), uint16(uid>>16), uint16(gid), uint16(gid>>16)
}

// HasSuperBackup reports whether group g holds a superblock and
// descriptor backup under sparse_super: groups 0, 1 and the powers of
// 3, 5 and 7 (without sparse_super every group does).
func HasSuperBackup(g uint32) bool {
	if g <= 1 {
		return true
	}
	for _, b := range []uint32{3, 5, 7} {
		n := b
		for n < g {
			n *= b
		}
		if n == g {
			return true
		}
	}
	return false
}
