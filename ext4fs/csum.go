package ext4fs

import (
	"hash/crc32"
)

// metadata_csum checksums are the raw crc32c the kernel's ext4_chksum
// computes (no initial or final inversion), seeded with crc32c(~0, uuid)
// or s_checksum_seed, and for inode-owned blocks with the inode number
// and generation.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(crc uint32, p []byte) uint32 { return ^crc32.Update(^crc, castagnoli, p) }

func le32(v uint32) []byte { return le.AppendUint32(nil, v) }

// inodeSeed is the seed of an inode's own checksums (inode, extent blocks,
// directory blocks).
func (f *FS) inodeSeed(ino, generation uint32) uint32 {
	return crc32c(crc32c(f.csumSeed, le32(ino)), le32(generation))
}

// checksum is the checksum stored in the inode.
func (in *rawInode) checksum() uint32 {
	c := uint32(in.ChecksumLo)
	if in.extraFields && in.ExtraIsize >= 4 {
		c |= uint32(in.ChecksumHi) << 16
	}
	return c
}

// inodeCsum computes an inode's checksum over its bytes with the checksum
// fields taken as zero; only the low 16 bits count without i_checksum_hi.
func (f *FS) inodeCsum(ino uint32, in rawInode, b []byte) uint32 {
	c := make([]byte, len(b))
	copy(c, b)
	c[0x7C], c[0x7D] = 0, 0
	hi := in.extraFields && in.ExtraIsize >= 4
	if hi {
		c[0x82], c[0x83] = 0, 0
	}
	sum := crc32c(f.inodeSeed(ino, in.Generation), c)
	if !hi {
		sum &= 0xffff
	}
	return sum
}

// groupDescCsum is bg_checksum: crc32c over the group number and the
// descriptor with bg_checksum zero, low 16 bits.
func groupDescCsum(seed, group uint32, d []byte) uint16 {
	c := crc32c(seed, le32(group))
	c = crc32c(c, d[:0x1E])
	c = crc32c(c, []byte{0, 0})
	c = crc32c(c, d[0x20:])
	return uint16(c)
}
