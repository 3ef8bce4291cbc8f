package ext4format

import (
	"encoding/binary"
	"testing"
)

// TestReservedGDTBlocks checks the reserve against what mke2fs 1.47.0
// reserves (factor 1024; "Reserved GDT blocks" in dumpe2fs -h of
// mke2fs -t ext4 [-b 1024] IMG SIZE) and against the writer's factor 64.
func TestReservedGDTBlocks(t *testing.T) {
	for _, c := range []struct {
		blocks   uint64
		fdb, bpg uint32
		bs, desc int
		factor   uint64
		want     uint32
	}{
		{12288, 1, 8192, 1024, 64, 1024, 95},     // mke2fs 12M -b 1024
		{409600, 1, 8192, 1024, 64, 1024, 256},   // mke2fs 400M (1 KiB blocks below 512M): capped at 1024/4
		{72254, 1, 8192, 1024, 32, 64, 17},       // ext4img, 1 KiB, 9 groups
		{18035, 0, 32768, 4096, 32, 64, 0},       // ext4img, 4 KiB, one group: 64 groups fit one block
		{1 << 20, 0, 32768, 4096, 32, 64, 15},    // 4 GiB: 32 groups → 2048
		{1 << 30, 1, 8192, 1024, 32, 64, 256},    // capped at a block's worth of addresses
		{1 << 31, 0, 32768, 4096, 32, 1024, 512}, // never past 2^32 blocks: 1024 descriptor blocks in all
	} {
		got := ReservedGDTBlocks(c.blocks, c.fdb, c.bpg, c.bs, c.desc, c.factor)
		if got != c.want {
			t.Errorf("ReservedGDTBlocks(%d, %d, %d, %d, %d, %d) = %d, want %d", c.blocks, c.fdb, c.bpg, c.bs, c.desc, c.factor, got, c.want)
		}
	}
}

// TestResizeLayout checks the blocks against debugfs's stat <7> of an
// mke2fs 12M -b 1024 image: (DIND):883, (IND):3 → 8195, … (IND):97 → 8289.
func TestResizeLayout(t *testing.T) {
	r := ResizeLayout{BlockSize: 1024, FirstDataBlock: 1, BlocksPerGroup: 8192, DescBlocks: 1, Reserved: 95, Backups: []uint32{1}, Dind: 883}
	b := make([]byte, 1024)
	r.DindBlock(b)
	if got := binary.LittleEndian.Uint32(b[4*1:]); got != 3 {
		t.Errorf("dind[1] = %d, want 3", got)
	}
	if got := binary.LittleEndian.Uint32(b[4*95:]); got != 97 {
		t.Errorf("dind[95] = %d, want 97", got)
	}
	if got := binary.LittleEndian.Uint32(b[0:]); got != 0 {
		t.Errorf("dind[0] = %d, want 0 (the descriptor block is not the inode's)", got)
	}
	r.IndBlock(b, 94)
	if got := binary.LittleEndian.Uint32(b); got != 8289 {
		t.Errorf("ind of reserved block 94 [0] = %d, want 8289", got)
	}
	if got := r.Blocks(); got != 191 {
		t.Errorf("Blocks() = %d, want 191 (debugfs: Blockcount 382)", got)
	}
	var n Inode
	r.ResizeInode(&n, 1, 0)
	if got := uint64(n.SizeLo) | uint64(n.SizeHi)<<32; got != 67383296 {
		t.Errorf("i_size = %d, want 67383296", got)
	}
}
