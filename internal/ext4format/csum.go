package ext4format

import "hash/crc32"

// metadata_csum: crc32c over each metadata structure, seeded with the
// filesystem's seed (crc32c of the UUID, or s_checksum_seed with
// csum_seed) and, for the blocks an inode owns, with the inode number and
// generation, as the kernel's ext4_chksum computes it: the raw CRC,
// without Go's initial and final inversion.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32c continues the raw crc32c crc over p.
func CRC32c(crc uint32, p []byte) uint32 { return ^crc32.Update(^crc, castagnoli, p) }

// UUIDSeed is the filesystem's checksum seed without csum_seed:
// crc32c(~0, s_uuid).
func UUIDSeed(uuid [16]byte) uint32 { return CRC32c(^uint32(0), uuid[:]) }

// InodeSeed is ext4_inode_info.i_csum_seed, the seed of an inode's own
// checksums (the inode, its extent tree blocks, its directory blocks).
func InodeSeed(fsSeed, ino, generation uint32) uint32 {
	var b [4]byte
	le.PutUint32(b[:], ino)
	c := CRC32c(fsSeed, b[:])
	le.PutUint32(b[:], generation)
	return CRC32c(c, b[:])
}

// SuperBlockChecksum is s_checksum of the encoded superblock b: crc32c(~0)
// over everything before it.
func SuperBlockChecksum(b []byte) uint32 {
	return CRC32c(^uint32(0), b[:SuperBlockSize-4])
}

// GroupDescChecksum is bg_checksum of the encoded descriptor d of group
// group: crc32c over the group number and the descriptor with bg_checksum
// taken as zero, the low 16 bits.
func GroupDescChecksum(fsSeed, group uint32, d []byte) uint16 {
	return uint16(checksumWithout(fsSeed, le.AppendUint32(nil, group), d, func(c []byte) {
		var g GroupDesc
		g.Unmarshal(c)
		g.Checksum = 0
		g.Marshal(c)
	}))
}

// InodeChecksum is the checksum of the encoded inode b (the whole inode,
// len(b) bytes) with its checksum fields taken as zero; only its low 16
// bits count when the inode has no i_checksum_hi (Inode.HasChecksumHi).
func InodeChecksum(inodeSeed uint32, b []byte) uint32 {
	var n Inode
	sum := checksumWithout(inodeSeed, nil, b, func(c []byte) {
		n.Unmarshal(c)
		n.ChecksumLo, n.ChecksumHi = 0, 0
		n.Marshal(c)
	})
	if !n.HasChecksumHi(len(b)) {
		sum &= 0xffff
	}
	return sum
}

// Checksum is the checksum stored in n, an inode of size bytes.
func (n *Inode) Checksum(size int) uint32 {
	c := uint32(n.ChecksumLo)
	if n.HasChecksumHi(size) {
		c |= uint32(n.ChecksumHi) << 16
	}
	return c
}

// SetChecksum stores c in l_i_checksum_lo and i_checksum_hi.
func (n *Inode) SetChecksum(c uint32) { n.ChecksumLo, n.ChecksumHi = uint16(c), uint16(c>>16) }

// XattrBlockChecksum is h_checksum of the encoded xattr block b at block
// blk: crc32c over the block number and the block with h_checksum taken
// as zero.
func XattrBlockChecksum(fsSeed uint32, blk uint64, b []byte) uint32 {
	return checksumWithout(fsSeed, le.AppendUint64(nil, blk), b, func(c []byte) {
		var h XattrHeader
		h.Unmarshal(c)
		h.Checksum = 0
		h.Marshal(c)
	})
}

// checksumWithout is crc32c from seed over prefix, then over a copy of the
// encoded structure b in which clearSum has zeroed the checksum field.
func checksumWithout(seed uint32, prefix, b []byte, clearSum func(c []byte)) uint32 {
	c := append([]byte(nil), b...)
	clearSum(c)
	return CRC32c(CRC32c(seed, prefix), c)
}

// SetExtentTail stores the checksum of extent tree block b after its
// eh_max entries (struct ext4_extent_tail): crc32c from the inode's seed
// over everything before it.
func SetExtentTail(b []byte, inodeSeed uint32) {
	var h ExtentHeader
	h.Unmarshal(b)
	off := ExtentTailOffset(h.Max)
	le.PutUint32(b[off:], CRC32c(inodeSeed, b[:off]))
}
