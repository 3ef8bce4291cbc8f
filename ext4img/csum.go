package ext4img

import (
	"encoding/binary"
	"hash/crc32"
)

// metadata_csum: crc32c over each metadata structure, seeded with the
// crc32c of the filesystem UUID (and, for inode-owned blocks, of the inode
// number and generation), as the kernel's ext4_chksum computes it: the raw
// CRC, without Go's initial and final inversion.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const roCompatMetadataCsum = 0x400

func crc32c(crc uint32, p []byte) uint32 { return ^crc32.Update(^crc, castagnoli, p) }

// fsCsumSeed is s_csum_seed: crc32c(~0, s_uuid).
func fsCsumSeed(uuid [16]byte) uint32 { return crc32c(^uint32(0), uuid[:]) }

// inodeCsumSeed is ext4_inode_info.i_csum_seed for ino (generation 0).
func inodeCsumSeed(fsSeed, ino uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], ino)
	c := crc32c(fsSeed, b[:])
	binary.LittleEndian.PutUint32(b[:], 0) // i_generation
	return crc32c(c, b[:])
}

// setInodeCsum stores the checksum of a marshalled inode (both checksum
// fields zero) in l_i_checksum_lo and i_checksum_hi.
func setInodeCsum(b []byte, fsSeed, ino uint32) {
	c := crc32c(inodeCsumSeed(fsSeed, ino), b[:inodeSize])
	binary.LittleEndian.PutUint16(b[0x7C:], uint16(c))
	binary.LittleEndian.PutUint16(b[0x82:], uint16(c>>16))
}

// setExtentTail stores the checksum of an extent tree block after its
// eh_max entries (struct ext4_extent_tail).
func setExtentTail(b []byte, fsSeed, ino uint32) {
	off := 12 + 12*int(binary.LittleEndian.Uint16(b[4:]))
	binary.LittleEndian.PutUint32(b[off:], crc32c(inodeCsumSeed(fsSeed, ino), b[:off]))
}

// setXattrBlockCsum stores h_checksum of the xattr block at block nr.
func setXattrBlockCsum(b []byte, fsSeed, nr uint32) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(nr))
	binary.LittleEndian.PutUint32(b[0x10:], 0)
	binary.LittleEndian.PutUint32(b[0x10:], crc32c(crc32c(fsSeed, n[:]), b))
}

// groupDescCsum is bg_checksum: crc32c over the group number and the
// descriptor (with bg_checksum zero), low 16 bits.
func groupDescCsum(fsSeed uint32, group uint32, desc []byte) uint16 {
	var g [4]byte
	binary.LittleEndian.PutUint32(g[:], group)
	c := crc32c(fsSeed, g[:])
	c = crc32c(c, desc[:0x1E])
	c = crc32c(c, []byte{0, 0})
	return uint16(c)
}
