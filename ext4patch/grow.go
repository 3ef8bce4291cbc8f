package ext4patch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// Grow stages growing the filesystem to fill newSize bytes; Commit
// extends the file and lands the new groups in the same transaction as
// the other staged changes. The new block count is newSize in whole
// blocks, less a last group too small for its own metadata and 50 blocks
// more (as resize2fs does); a size that adds no block stages nothing.
//
// Each new group holds its superblock and descriptor copies (when it is
// a backup group), its bitmaps and its inode table at its start, so
// nothing is moved and the new inode tables lie past the old end of the
// file, where they read as zeros (they are marked ITABLE_ZEROED). The
// descriptors of the new groups take reserved GDT blocks, and the resize
// inode is rebuilt as e2fsprogs' resize2fs does (fix_resize_inode).
// Shrinking, and growing past what the descriptor blocks and their
// reserve can describe, are refused with nothing staged; so is a second
// Grow before Commit.
func (im *Image) Grow(newSize int64) error {
	if im.broken {
		return errBroken
	}
	if err := im.change(func() error { return im.grow(newSize) }); err != nil {
		return fmt.Errorf("growing %s: %w", im.name, err)
	}
	return nil
}

func (im *Image) grow(newSize int64) error {
	if newSize < int64(im.blocks)*im.bs {
		return fmt.Errorf("%d bytes is smaller than the filesystem's %d: shrinking is not supported", newSize, int64(im.blocks)*im.bs)
	}
	if im.grown {
		return errors.New("a grow is staged already (commit it first)")
	}
	g, err := im.growGeometry(uint64(newSize / im.bs))
	if err != nil || g.blocks == im.blocks {
		return err
	}
	saved := im.state
	if err := im.applyGrow(g, newSize); err != nil {
		im.blocks, im.groups, im.gdtBlocks, im.grown = saved.blocks, saved.groups, saved.gdtBlocks, false
		im.descs = saved.descs
		for grp := range im.dirtyGroups {
			if grp >= saved.groups {
				delete(im.dirtyGroups, grp)
			}
		}
		return err
	}
	return nil
}

// growth is the geometry a grow leads to.
type growth struct {
	blocks    uint64
	groups    uint32
	gdtBlocks uint64
	reserved  uint64 // s_reserved_gdt_blocks after
}

// growGeometry is the geometry of the filesystem grown to blocks, or why
// it cannot grow there.
func (im *Image) growGeometry(blocks uint64) (growth, error) {
	limit := uint64(1<<32 - 1)
	if im.sb.FeatureIncompat&ext4format.Incompat64bit != 0 && im.sb.FeatureCompat&ext4format.CompatResizeInode == 0 {
		limit = 1<<48 - 1
	}
	if blocks > limit {
		return growth{}, fmt.Errorf("%d blocks are more than this filesystem can address (%d)", blocks, limit)
	}
	perBlock := uint64(im.bs) / uint64(im.descSize)
	rsv := uint64(im.sb.ReservedGdtBlocks)
	geometry := func(blocks uint64) growth {
		groups := (blocks - im.first + uint64(im.bpg) - 1) / uint64(im.bpg)
		gdt := (groups + perBlock - 1) / perBlock
		return growth{blocks: blocks, groups: uint32(groups), gdtBlocks: gdt, reserved: rsv - min(rsv, gdt-im.gdtBlocks)}
	}
	g := geometry(blocks)
	// A last group too small for its metadata and a little data goes, as
	// resize2fs drops it (adjust_fs_info).
	if rem := (blocks - im.first) % uint64(im.bpg); rem != 0 && g.groups > im.groups {
		overhead := 2 + im.itableBlocks()
		if im.hasSuper(g.groups - 1) {
			overhead += 1 + g.gdtBlocks + g.reserved
		}
		if rem < overhead+50 {
			g = geometry(blocks - rem)
		}
	}
	if g.blocks <= im.blocks {
		return growth{blocks: im.blocks}, nil
	}
	if g.gdtBlocks > im.gdtBlocks+rsv {
		most := min(limit, im.first+(im.gdtBlocks+rsv)*perBlock*uint64(im.bpg))
		return growth{}, fmt.Errorf("%d blocks need %d group descriptor blocks, and the image has %d and %d reserved: it can grow to at most %d bytes",
			g.blocks, g.gdtBlocks, im.gdtBlocks, rsv, most*uint64(im.bs))
	}
	if uint64(g.groups)*uint64(im.ipg) > 1<<32-1 {
		return growth{}, fmt.Errorf("%d groups of %d inodes are more inodes than ext4 counts", g.groups, im.ipg)
	}
	return g, nil
}

// applyGrow stages the grown filesystem: the old last group's new
// blocks, the new groups, the superblock's counts, the resize inode; the
// descriptor and superblock copies follow at seal (sealBackups).
func (im *Image) applyGrow(g growth, newSize int64) error {
	oldGroups, oldBlocks := im.groups, im.blocks
	last := &im.descs[oldGroups-1]
	if last.Flags&ext4format.BgBlockUninit != 0 {
		// Its bitmap as the kernel would build it, for the old geometry.
		copy(im.stageZero(last.BlockBitmap()), im.initBlockBitmap(oldGroups-1, last))
		last.Flags &^= ext4format.BgBlockUninit
	}
	lastStart := im.first + uint64(oldGroups-1)*uint64(im.bpg)
	oldN := oldBlocks - lastStart
	newN := min(uint64(im.bpg), g.blocks-lastStart)
	bm, err := im.stage(last.BlockBitmap())
	if err != nil {
		return err
	}
	for i := oldN; i < newN; i++ {
		clearBit(bm, i)
	}
	last.SetFreeBlocks(last.FreeBlocks() + uint32(newN-oldN))
	im.dirtyGroups[oldGroups-1] = true
	free := newN - oldN

	im.blocks, im.groups, im.gdtBlocks, im.grown = g.blocks, g.groups, g.gdtBlocks, true
	im.size = max(im.size, newSize)
	im.descs = slices.Clip(im.descs)
	itb := im.itableBlocks()
	for grp := oldGroups; grp < g.groups; grp++ {
		start := im.first + uint64(grp)*uint64(im.bpg)
		n := im.groupBlocks(grp)
		meta := uint64(0)
		if im.hasSuper(grp) {
			meta = 1 + g.gdtBlocks + g.reserved
		}
		used := meta + 2 + itb
		var d ext4format.GroupDesc
		d.SetTables(start+meta, start+meta+1, start+meta+2)
		d.SetFreeBlocks(uint32(n - used))
		d.SetFreeInodes(im.ipg)
		if im.hasUninit() {
			// The table lies past the old end of the file: zeros.
			d.Flags = ext4format.BgInodeUninit | ext4format.BgInodeZeroed
			d.SetItableUnused(im.ipg)
		}
		b := im.stageZero(start + meta)
		setBits(b, 0, used)
		setBits(b, n, uint64(im.bs)*8)
		setBits(im.stageZero(start+meta+1), uint64(im.ipg), uint64(im.bs)*8)
		im.descs = append(im.descs, d)
		im.dirtyGroups[grp] = true
		free += n - used
	}
	// Reserved blocks that become descriptor blocks: their old content
	// (the resize inode's indirect blocks) goes.
	for nr := im.first + 1 + im.oldGDTBlocks(); nr < im.first+1+g.gdtBlocks; nr++ {
		im.stageZero(nr)
	}

	sb := &im.sb
	if sb.BlocksCountHi != 0 || sb.FeatureIncompat&ext4format.Incompat64bit != 0 {
		sb.SetBlocksCount(g.blocks)
	} else {
		sb.BlocksCountLo = uint32(g.blocks)
	}
	// s_r_blocks_count keeps its share of the blocks, as resize2fs keeps
	// the percentage.
	sb.SetRBlocksCount(uint64(float64(sb.RBlocksCount()) * float64(g.blocks) / float64(oldBlocks)))
	sb.SetFreeBlocks(sb.FreeBlocks() + free)
	added := (g.groups - oldGroups) * im.ipg
	sb.InodesCount += added
	sb.FreeInodesCount += added
	sb.ReservedGdtBlocks = uint16(g.reserved)
	sb.OverheadClusters = 0 // resize2fs's and the kernel's: recomputed at mount when zero
	if sb.FeatureCompat&ext4format.CompatResizeInode != 0 {
		return im.rebuildResizeInode()
	}
	return nil
}

// oldGDTBlocks is the number of descriptor blocks the image has on disk.
func (im *Image) oldGDTBlocks() uint64 {
	return (uint64(len(im.oldDescs))*uint64(im.descSize) + uint64(im.bs) - 1) / uint64(im.bs)
}

// backupGroups are the groups past 0 that hold a superblock copy.
func (im *Image) backupGroups() []uint32 {
	var out []uint32
	for g := uint32(1); g < im.groups; g++ {
		if im.hasSuper(g) {
			out = append(out, g)
		}
	}
	return out
}

// rebuildResizeInode makes the resize inode own the reserve that is left
// and its copies in every backup group, from scratch, as resize2fs's
// fix_resize_inode does (its double-indirect block zeroed, then
// ext2fs_create_resize_inode).
func (im *Image) rebuildResizeInode() error {
	n, raw, err := im.inode(ext4format.ResizeIno)
	if err != nil {
		return err
	}
	dind := uint64(binary.LittleEndian.Uint32(n.Block[4*ext4format.DindBlockIndex:]))
	if dind == 0 || dind >= im.blocks {
		return fmt.Errorf("the resize inode has no double-indirect block (run e2fsck)")
	}
	rl := &ext4format.ResizeLayout{BlockSize: int(im.bs), FirstDataBlock: uint32(im.first), BlocksPerGroup: im.bpg,
		DescBlocks: im.gdtBlocks, Reserved: uint32(im.sb.ReservedGdtBlocks), Backups: im.backupGroups(), Dind: dind}
	b := make([]byte, im.bs)
	rl.DindBlock(b)
	if err := im.stageIfChanged(dind, b); err != nil {
		return err
	}
	for i := range rl.Reserved {
		rl.IndBlock(b, i)
		if err := im.stageIfChanged(rl.ReservedBlock(i), b); err != nil {
			return err
		}
	}
	n.SetBlocks512(rl.Blocks() * uint64(im.bs/512))
	return im.putInode(ext4format.ResizeIno, n, raw)
}

// stageIfChanged stages block nr with content b unless it holds that
// already: an unchanged block costs no log block.
func (im *Image) stageIfChanged(nr uint64, b []byte) error {
	cur, err := im.read(nr)
	if err != nil {
		return err
	}
	if slices.Equal(cur, b) {
		return nil
	}
	s, err := im.stage(nr)
	if err != nil {
		return err
	}
	copy(s, b)
	return nil
}

// sealBackups writes the superblock and descriptor copies of every backup
// group after a grow: a backup whose counts differ from the primary's
// makes e2fsck -p check the whole filesystem. It runs after seal has
// encoded the primary ones.
func (im *Image) sealBackups() error {
	nr, off := im.sbBlock()
	primary, err := im.read(nr)
	if err != nil {
		return err
	}
	sbRaw := primary[off:][:ext4format.SuperBlockSize]
	for _, g := range im.backupGroups() {
		start := im.first + uint64(g)*uint64(im.bpg)
		var sb ext4format.SuperBlock
		sb.Unmarshal(sbRaw)
		sb.BlockGroupNr = uint16(g)
		copyRaw := make([]byte, ext4format.SuperBlockSize)
		sb.Marshal(copyRaw)
		if im.csum {
			sb.Checksum = ext4format.SuperBlockChecksum(copyRaw)
			sb.Marshal(copyRaw)
		}
		b, err := im.stageFor(start)
		if err != nil {
			return err
		}
		copy(b, copyRaw)
		for i := range im.gdtBlocks {
			src, err := im.read(im.first + 1 + i)
			if err != nil {
				return err
			}
			src = slices.Clone(src)
			dst, err := im.stageFor(start + 1 + i)
			if err != nil {
				return err
			}
			copy(dst, src)
		}
	}
	return nil
}

// stageFor stages block nr to be overwritten: as on disk when the old
// image has it, as zeros when it lies past the old end.
func (im *Image) stageFor(nr uint64) ([]byte, error) {
	if nr >= im.oldBlocks {
		if b, ok := im.staged[nr]; ok {
			im.remember(nr, b)
			return b, nil
		}
		return im.stageZero(nr), nil
	}
	return im.stage(nr)
}
