package ext4format

import "fmt"

// Geometry is what a superblock says about the layout, once CheckGeometry
// has found it sane.
type Geometry struct {
	BlockSize int64
	Blocks    uint64 // s_blocks_count
	Groups    uint32
	InodeSize int
	DescSize  int
	GDTBlocks uint64 // blocks of the primary descriptor table
}

// CheckGeometry checks the superblock's geometry against itself and an
// image of size bytes, before anything is sized by it: every readers'
// allocation and index (descriptors, inode tables) follows from these
// numbers, so a hostile image must fail here rather than later. Without
// meta_bg the descriptor table must fit group 0, which bounds it by
// blocks_per_group blocks; with it, by the image.
func CheckGeometry(sb *SuperBlock, size int64) (Geometry, error) {
	var g Geometry
	if size < SuperBlockOffset+SuperBlockSize {
		return g, fmt.Errorf("%d bytes are too few for an ext4 image", size)
	}
	if sb.LogBlockSize > 6 {
		return g, fmt.Errorf("block size 2^%d KiB", sb.LogBlockSize)
	}
	g.BlockSize = 1024 << sb.LogBlockSize
	bs := g.BlockSize
	g.Blocks = uint64(sb.BlocksCountLo)
	g.DescSize = GroupDescSize
	if sb.FeatureIncompat&Incompat64bit != 0 {
		g.Blocks = sb.BlocksCount()
		g.DescSize = int(sb.DescSize)
	}
	g.InodeSize = GoodOldInodeSize
	if sb.RevLevel > 0 {
		g.InodeSize = int(sb.InodeSize)
	}
	wantFirst := uint32(0)
	if bs == 1024 {
		wantFirst = 1
	}
	switch {
	case g.Blocks == 0 || g.Blocks > uint64(size/bs):
		return g, fmt.Errorf("%d blocks of %d bytes, but the image holds %d bytes", g.Blocks, bs, size)
	case sb.FirstDataBlock != wantFirst:
		return g, fmt.Errorf("first data block %d with %d-byte blocks", sb.FirstDataBlock, bs)
	case g.Blocks <= uint64(sb.FirstDataBlock)+1:
		return g, fmt.Errorf("%d blocks leave no room for group descriptors", g.Blocks)
	case sb.BlocksPerGroup < 8 || int64(sb.BlocksPerGroup) > 8*bs:
		return g, fmt.Errorf("%d blocks per group", sb.BlocksPerGroup)
	case sb.InodesPerGroup == 0 || int64(sb.InodesPerGroup) > 8*bs:
		return g, fmt.Errorf("%d inodes per group", sb.InodesPerGroup)
	case g.InodeSize < GoodOldInodeSize || int64(g.InodeSize) > bs || g.InodeSize&(g.InodeSize-1) != 0:
		return g, fmt.Errorf("inode size %d", g.InodeSize)
	case g.DescSize < GroupDescSize || g.DescSize > 1024 || g.DescSize&(g.DescSize-1) != 0:
		return g, fmt.Errorf("group descriptor size %d", g.DescSize)
	}
	groups := (g.Blocks - uint64(sb.FirstDataBlock) + uint64(sb.BlocksPerGroup) - 1) / uint64(sb.BlocksPerGroup)
	if groups == 0 || groups > 1<<32-1 {
		return g, fmt.Errorf("%d block groups", groups)
	}
	g.Groups = uint32(groups)
	if uint64(sb.InodesCount) != groups*uint64(sb.InodesPerGroup) || sb.InodesCount < RootIno {
		return g, fmt.Errorf("%d inodes, but %d groups of %d", sb.InodesCount, groups, sb.InodesPerGroup)
	}
	g.GDTBlocks = (groups*uint64(g.DescSize) + uint64(bs) - 1) / uint64(bs)
	end := uint64(sb.FirstDataBlock) + 1 + g.GDTBlocks
	if end > g.Blocks || (sb.FeatureIncompat&IncompatMetaBG == 0 && end > uint64(sb.FirstDataBlock)+uint64(sb.BlocksPerGroup)) {
		return g, fmt.Errorf("a descriptor table of %d blocks does not fit group 0 (%d blocks) or the %d-block image", g.GDTBlocks, sb.BlocksPerGroup, g.Blocks)
	}
	return g, nil
}
