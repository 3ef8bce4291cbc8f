package ext4patch

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// state is the filesystem as staged: changed blocks are kept whole in
// memory (staged) until Commit; the superblock and the group descriptors
// are kept decoded and encoded into their blocks by seal. The descriptors
// as on disk (oldDescs) say which blocks the old image uses.
type state struct {
	sb        ext4format.SuperBlock
	bs        int64
	first     uint64 // s_first_data_block
	blocks    uint64
	oldBlocks uint64 // the block count on disk: a grow's blocks lie past it
	grown     bool   // a grow is staged: the backups follow the primary at seal
	bpg, ipg  uint32
	groups    uint32
	descSize  int
	inodeSize int
	gdtBlocks uint64
	csum      bool
	seed      uint32

	descs, oldDescs []ext4format.GroupDesc
	dirtyGroups     map[uint32]bool
	staged          map[uint64][]byte
	oldBitmaps      map[uint32][]byte

	// undo holds, while a Put or Remove runs, each block's staged content
	// before its first change in it (nil: not staged), so that a failed
	// change leaves nothing behind.
	undo      map[uint64][]byte
	undoDescs []ext4format.GroupDesc
	undoSB    ext4format.SuperBlock
}

// load reads the superblock and descriptors from the file and drops
// everything staged.
func (im *Image) load() error {
	b := make([]byte, ext4format.SuperBlockSize)
	if _, err := im.f.ReadAt(b, ext4format.SuperBlockOffset); err != nil {
		return fmt.Errorf("reading superblock: %w", err)
	}
	s := &im.state
	*s = state{staged: map[uint64][]byte{}, dirtyGroups: map[uint32]bool{}, oldBitmaps: map[uint32][]byte{}}
	s.sb.Unmarshal(b)
	sb := &s.sb
	if sb.Magic != ext4format.SuperMagic {
		return fmt.Errorf("reading superblock: magic %#04x is not ext4's", sb.Magic)
	}
	if sb.LogBlockSize > 2 || sb.RevLevel == 0 {
		return errors.New("reading superblock: unsupported geometry")
	}
	geo, err := ext4format.CheckGeometry(sb, im.size)
	if err != nil {
		return fmt.Errorf("reading superblock: %w", err)
	}
	s.bs, s.blocks, s.groups = geo.BlockSize, geo.Blocks, geo.Groups
	s.first, s.bpg, s.ipg = uint64(sb.FirstDataBlock), sb.BlocksPerGroup, sb.InodesPerGroup
	s.descSize, s.inodeSize, s.gdtBlocks = geo.DescSize, geo.InodeSize, geo.GDTBlocks
	s.oldBlocks = s.blocks
	s.csum = sb.FeatureRoCompat&ext4format.RoCompatMetadataCsum != 0
	s.seed = ext4format.UUIDSeed(sb.UUID)
	if sb.FeatureIncompat&ext4format.IncompatCsumSeed != 0 {
		s.seed = sb.ChecksumSeed
	}
	gdt := make([]byte, s.gdtBlocks*uint64(s.bs))
	if _, err := im.f.ReadAt(gdt, int64(s.first+1)*s.bs); err != nil {
		return fmt.Errorf("reading group descriptors: %w", err)
	}
	s.descs = make([]ext4format.GroupDesc, s.groups)
	for g := range s.descs {
		s.descs[g].Unmarshal(gdt[g*s.descSize:][:s.descSize])
	}
	s.oldDescs = slices.Clone(s.descs)
	return nil
}

// read returns block nr as staged, or as on disk; the caller must not
// change it.
func (im *Image) read(nr uint64) ([]byte, error) {
	if b, ok := im.staged[nr]; ok {
		return b, nil
	}
	return im.readDisk(nr)
}

func (im *Image) readDisk(nr uint64) ([]byte, error) {
	if nr >= im.blocks {
		return nil, fmt.Errorf("block %d is outside the %d-block filesystem", nr, im.blocks)
	}
	b := make([]byte, im.bs)
	if int64(nr)*im.bs >= im.diskSize {
		return b, nil // a grow's block past the file's end until Commit extends it
	}
	if _, err := im.f.ReadAt(b, int64(nr)*im.bs); err != nil {
		return nil, fmt.Errorf("reading block %d: %w", nr, err)
	}
	return b, nil
}

// stage returns block nr to change in place.
func (im *Image) stage(nr uint64) ([]byte, error) {
	if b, ok := im.staged[nr]; ok {
		im.remember(nr, b)
		return b, nil
	}
	b, err := im.readDisk(nr)
	if err != nil {
		return nil, err
	}
	im.remember(nr, nil)
	im.staged[nr] = b
	return b, nil
}

// stageZero stages block nr as zeros (a block just allocated).
func (im *Image) stageZero(nr uint64) []byte {
	im.remember(nr, im.staged[nr])
	b := make([]byte, im.bs)
	im.staged[nr] = b
	return b
}

func (im *Image) remember(nr uint64, b []byte) {
	if im.undo == nil {
		return
	}
	if _, ok := im.undo[nr]; !ok {
		im.undo[nr] = slices.Clone(b)
	}
}

// change runs fn as one all-or-nothing change of the staged state.
func (im *Image) change(fn func() error) error {
	im.undo, im.undoDescs, im.undoSB = map[uint64][]byte{}, slices.Clone(im.descs), im.sb
	defer func() { im.undo = nil }()
	err := fn()
	if err != nil {
		for nr, b := range im.undo {
			if b == nil {
				delete(im.staged, nr)
			} else {
				im.staged[nr] = b
			}
		}
		copy(im.descs, im.undoDescs)
		im.sb = im.undoSB
	}
	return err
}

// sbBlock is the block holding the primary superblock, and where in it.
func (im *Image) sbBlock() (uint64, int) {
	if im.bs == 1024 {
		return 1, 0
	}
	return 0, ext4format.SuperBlockOffset
}

// seal encodes the superblock and the changed descriptors, with their
// checksums and their bitmaps', into their staged blocks.
func (im *Image) seal() error {
	for g := range im.dirtyGroups {
		d := &im.descs[g]
		if im.hasUninit() {
			if err := im.setUninit(g, d); err != nil {
				return err
			}
		}
		if im.csum {
			if err := im.setBitmapChecksums(d); err != nil {
				return err
			}
		}
		off := uint64(g) * uint64(im.descSize)
		b, err := im.stage(im.first + 1 + off/uint64(im.bs))
		if err != nil {
			return err
		}
		raw := b[off%uint64(im.bs):][:im.descSize]
		d.Marshal(raw)
		if im.csum {
			d.Checksum = ext4format.GroupDescChecksum(im.seed, g, raw)
			d.Marshal(raw)
		}
	}
	clear(im.dirtyGroups)
	if err := im.sealSuper(&im.sb); err != nil {
		return err
	}
	if im.grown {
		return im.sealBackups()
	}
	return nil
}

// setUninit sets the uninit flags and bg_itable_unused as e2fsprogs
// leaves them (ext2fs_set_gdt_csum), so that e2fsck finds nothing to
// change: a group with every inode free is INODE_UNINIT, otherwise
// itable_unused counts the inodes after its last used one; a group with
// every block free (but the last) is BLOCK_UNINIT.
func (im *Image) setUninit(g uint32, d *ext4format.GroupDesc) error {
	if d.FreeBlocks() == im.bpg && g != im.groups-1 {
		d.Flags |= ext4format.BgBlockUninit
	}
	if d.FreeInodes() == im.ipg {
		d.Flags |= ext4format.BgInodeUninit
		d.SetItableUnused(im.ipg)
		return nil
	}
	d.Flags &^= ext4format.BgInodeUninit
	bm, err := im.read(d.InodeBitmap())
	if err != nil {
		return err
	}
	last := im.ipg
	for last > 0 && !testBit(bm, uint64(last-1)) {
		last--
	}
	d.SetItableUnused(im.ipg - last)
	return nil
}

// setBitmapChecksums sets the checksums of d's bitmaps that are in use
// (those of an uninit group stay as they are).
func (im *Image) setBitmapChecksums(d *ext4format.GroupDesc) error {
	bc := uint32(d.BlockBitmapCsumLo) | uint32(d.BlockBitmapCsumHi)<<16
	ic := uint32(d.InodeBitmapCsumLo) | uint32(d.InodeBitmapCsumHi)<<16
	if d.Flags&ext4format.BgBlockUninit == 0 {
		b, err := im.read(d.BlockBitmap())
		if err != nil {
			return err
		}
		bc = ext4format.CRC32c(im.seed, b[:im.sb.ClustersPerGroup/8])
	}
	if d.Flags&ext4format.BgInodeUninit == 0 {
		b, err := im.read(d.InodeBitmap())
		if err != nil {
			return err
		}
		ic = ext4format.CRC32c(im.seed, b[:im.ipg/8])
	}
	d.SetBitmapChecksums(bc, ic, im.descSize)
	return nil
}

// sealSuper encodes sb into the staged superblock block.
func (im *Image) sealSuper(sb *ext4format.SuperBlock) error {
	nr, off := im.sbBlock()
	b, err := im.stage(nr)
	if err != nil {
		return err
	}
	raw := b[off:][:ext4format.SuperBlockSize]
	sb.Marshal(raw)
	if im.csum {
		sb.Checksum = ext4format.SuperBlockChecksum(raw)
		sb.Marshal(raw)
	}
	return nil
}

// view is an io.ReaderAt of the image as staged (sealed first), for
// ext4fs.
func (im *Image) view() io.ReaderAt { return stagedReader{im} }

type stagedReader struct{ im *Image }

func (r stagedReader) ReadAt(p []byte, off int64) (int, error) {
	im := r.im
	n := 0
	for n < len(p) {
		nr, in := uint64(off+int64(n))/uint64(im.bs), (off+int64(n))%im.bs
		var src []byte
		if b, ok := im.staged[nr]; ok {
			src = b[in:]
		} else if off+int64(n) >= im.diskSize {
			m := min(len(p), n+int(im.bs-in)) - n
			clear(p[n : n+m])
			n += m
			continue
		} else {
			m, err := im.f.ReadAt(p[n:min(len(p), n+int(im.bs-in))], off+int64(n))
			n += m
			if err != nil {
				return n, err
			}
			continue
		}
		n += copy(p[n:], src)
	}
	return n, nil
}

// hasSuper reports whether group g holds a superblock backup.
func (im *Image) hasSuper(g uint32) bool {
	if g <= 1 || im.sb.FeatureRoCompat&ext4format.RoCompatSparseSuper == 0 {
		return true
	}
	return ext4format.HasSuperBackup(g)
}

// groupBlocks is the number of blocks in group g (the last may be short).
func (im *Image) groupBlocks(g uint32) uint64 {
	start := im.first + uint64(g)*uint64(im.bpg)
	return min(uint64(im.bpg), im.blocks-start)
}

// initBlockBitmap is the bitmap of a BLOCK_UNINIT group as the kernel
// builds it (ext4_init_block_bitmap): its superblock backup, descriptors
// and reserve, its own bitmaps and inode table if they lie in it, and
// the bits past its end.
func (im *Image) initBlockBitmap(g uint32, d *ext4format.GroupDesc) []byte {
	b := make([]byte, im.bs)
	start, n := im.first+uint64(g)*uint64(im.bpg), im.groupBlocks(g)
	mark := func(blk, count uint64) {
		for i := range count {
			if x := blk + i; x >= start && x < start+n {
				setBit(b, x-start)
			}
		}
	}
	if im.hasSuper(g) {
		mark(start, 1+im.gdtBlocks+uint64(im.sb.ReservedGdtBlocks))
	}
	mark(d.BlockBitmap(), 1)
	mark(d.InodeBitmap(), 1)
	mark(d.InodeTable(), im.itableBlocks())
	setBits(b, n, uint64(im.bs)*8)
	return b
}

func (im *Image) itableBlocks() uint64 {
	return (uint64(im.ipg)*uint64(im.inodeSize) + uint64(im.bs) - 1) / uint64(im.bs)
}

func setBit(b []byte, i uint64) { b[i/8] |= 1 << (i % 8) }

// setBits sets bits [from, to) of b, whole bytes at a time in between.
func setBits(b []byte, from, to uint64) {
	for ; from < to && from%8 != 0; from++ {
		setBit(b, from)
	}
	for ; from+8 <= to; from += 8 {
		b[from/8] = 0xff
	}
	for ; from < to; from++ {
		setBit(b, from)
	}
}

func clearBit(b []byte, i uint64)     { b[i/8] &^= 1 << (i % 8) }
func testBit(b []byte, i uint64) bool { return b[i/8]&(1<<(i%8)) != 0 }

// oldBlockBitmap is group g's block bitmap as the image before the patch
// has it: what must not be overwritten before the commit.
func (im *Image) oldBlockBitmap(g uint32) ([]byte, error) {
	if b, ok := im.oldBitmaps[g]; ok {
		return b, nil
	}
	if g >= uint32(len(im.oldDescs)) {
		b := make([]byte, im.bs) // a group a grow adds: nothing in it is old
		im.oldBitmaps[g] = b
		return b, nil
	}
	d := &im.oldDescs[g]
	var b []byte
	if d.Flags&ext4format.BgBlockUninit != 0 {
		b = im.initBlockBitmap(g, d)
	} else {
		var err error
		if b, err = im.readDisk(d.BlockBitmap()); err != nil {
			return nil, err
		}
	}
	im.oldBitmaps[g] = b
	return b, nil
}

// usedBefore reports whether the old image uses block nr.
func (im *Image) usedBefore(nr uint64) (bool, error) {
	if nr < im.first {
		return true, nil
	}
	if nr >= im.oldBlocks {
		return false, nil
	}
	g := uint32((nr - im.first) / uint64(im.bpg))
	b, err := im.oldBlockBitmap(g)
	if err != nil {
		return false, err
	}
	return testBit(b, (nr-im.first)%uint64(im.bpg)), nil
}

// run is a contiguous range of blocks.
type run struct {
	start uint64
	len   uint64
}

// allocBlocks takes n blocks that are free both now and in the old
// image, lowest first, and returns them as runs.
func (im *Image) allocBlocks(n uint64) ([]run, error) {
	if n == 0 {
		return nil, nil
	}
	if im.sb.FreeBlocks() < n {
		return nil, fmt.Errorf("no space: %d blocks needed, %d free", n, im.sb.FreeBlocks())
	}
	var out []run
	for g := uint32(0); g < im.groups && n > 0; g++ {
		d := &im.descs[g]
		if d.FreeBlocks() == 0 {
			continue
		}
		old, err := im.oldBlockBitmap(g)
		if err != nil {
			return nil, err
		}
		var cur []byte
		if d.Flags&ext4format.BgBlockUninit != 0 {
			cur = im.initBlockBitmap(g, d)
		} else if cur, err = im.read(d.BlockBitmap()); err != nil {
			return nil, err
		}
		start, count := im.first+uint64(g)*uint64(im.bpg), im.groupBlocks(g)
		var took []uint64
		for i := uint64(0); i < count && n > 0; i++ {
			if i%8 == 0 && i+8 <= count && (cur[i/8]|old[i/8]) == 0xff {
				i += 7
				continue
			}
			if !testBit(cur, i) && !testBit(old, i) {
				took = append(took, i)
				n--
			}
		}
		if len(took) == 0 {
			continue
		}
		if d.Flags&ext4format.BgBlockUninit != 0 {
			b := im.stageZero(d.BlockBitmap())
			copy(b, cur)
			d.Flags &^= ext4format.BgBlockUninit
		}
		bm, err := im.stage(d.BlockBitmap())
		if err != nil {
			return nil, err
		}
		for _, i := range took {
			setBit(bm, i)
			if k := len(out) - 1; k >= 0 && out[k].start+out[k].len == start+i {
				out[k].len++
			} else {
				out = append(out, run{start + i, 1})
			}
		}
		d.SetFreeBlocks(d.FreeBlocks() - uint32(len(took)))
		im.sb.SetFreeBlocks(im.sb.FreeBlocks() - uint64(len(took)))
		im.dirtyGroups[g] = true
	}
	if n > 0 {
		return nil, fmt.Errorf("no space: %d more blocks needed than the groups' bitmaps have free", n)
	}
	return out, nil
}

// freeBlocks marks the runs free.
func (im *Image) freeBlocks(rs []run) error {
	for _, r := range rs {
		for nr := r.start; nr < r.start+r.len; nr++ {
			if nr < im.first || nr >= im.blocks {
				return fmt.Errorf("freeing block %d outside the filesystem", nr)
			}
			g := uint32((nr - im.first) / uint64(im.bpg))
			d := &im.descs[g]
			bm, err := im.stage(d.BlockBitmap())
			if err != nil {
				return err
			}
			i := (nr - im.first) % uint64(im.bpg)
			if !testBit(bm, i) {
				return fmt.Errorf("freeing block %d, which is free already", nr)
			}
			clearBit(bm, i)
			d.SetFreeBlocks(d.FreeBlocks() + 1)
			im.sb.SetFreeBlocks(im.sb.FreeBlocks() + 1)
			im.dirtyGroups[g] = true
		}
	}
	return nil
}

// allocInode takes the first free inode; dir counts it in used_dirs.
func (im *Image) allocInode(dir bool) (uint32, error) {
	for g := uint32(0); g < im.groups; g++ {
		d := &im.descs[g]
		if d.FreeInodes() == 0 {
			continue
		}
		var bm []byte
		if d.Flags&ext4format.BgInodeUninit != 0 {
			bm = im.stageZero(d.InodeBitmap())
			for i := uint64(im.ipg); i < uint64(im.bs)*8; i++ {
				setBit(bm, i)
			}
			d.Flags &^= ext4format.BgInodeUninit
		} else {
			var err error
			if bm, err = im.stage(d.InodeBitmap()); err != nil {
				return 0, err
			}
		}
		for i := uint32(0); i < im.ipg; i++ {
			if bm[i/8] == 0xff {
				i += 7
				continue
			}
			ino := g*im.ipg + i + 1
			if testBit(bm, uint64(i)) || ino < im.sb.FirstIno {
				continue
			}
			setBit(bm, uint64(i))
			d.SetFreeInodes(d.FreeInodes() - 1)
			im.sb.FreeInodesCount--
			if dir {
				d.SetUsedDirs(d.UsedDirs() + 1)
			}
			im.dirtyGroups[g] = true
			return ino, nil
		}
	}
	return 0, errors.New("no free inode")
}

// hasUninit reports whether descriptors carry the uninit flags and
// bg_itable_unused (metadata_csum or gdt_csum).
func (im *Image) hasUninit() bool {
	return im.sb.FeatureRoCompat&(ext4format.RoCompatMetadataCsum|ext4format.RoCompatGdtCsum) != 0
}

// freeInode marks inode ino free.
func (im *Image) freeInode(ino uint32, dir bool) error {
	g, i := (ino-1)/im.ipg, (ino-1)%im.ipg
	d := &im.descs[g]
	bm, err := im.stage(d.InodeBitmap())
	if err != nil {
		return err
	}
	if !testBit(bm, uint64(i)) {
		return fmt.Errorf("freeing inode %d, which is free already", ino)
	}
	clearBit(bm, uint64(i))
	d.SetFreeInodes(d.FreeInodes() + 1)
	im.sb.FreeInodesCount++
	if dir {
		d.SetUsedDirs(d.UsedDirs() - 1)
	}
	im.dirtyGroups[g] = true
	return nil
}
