package ext4format

import "encoding/binary"

// The jbd2 log (journal.rst; e2fsprogs lib/ext2fs/kernel-jbd.h): after the
// journal superblock, transactions of a descriptor block listing block
// tags, the logged blocks, and a commit block; revoke blocks cancel
// earlier transactions' blocks. Everything is big-endian.

var be = binary.BigEndian

// Journal block types (h_blocktype).
const (
	JournalDescriptorBlock = 1
	JournalCommitBlock     = 2
	JournalSuperBlockV1    = 3
	JournalRevokeBlock     = 5
)

// Journal features (s_feature_compat, s_feature_incompat).
const (
	JournalCompatChecksum     = 0x1 // v1 commit checksums
	JournalIncompatRevoke     = 0x1
	JournalIncompat64bit      = 0x2
	JournalIncompatAsync      = 0x4 // async commit
	JournalIncompatCsumV2     = 0x8
	JournalIncompatCsumV3     = 0x10
	JournalIncompatFastCommit = 0x20
)

// Journal block tag flags (t_flags).
const (
	JournalTagEscape   = 0x1 // the block began with JournalMagic, zeroed in the log
	JournalTagSameUUID = 0x2 // no 16-byte UUID follows the tag
	JournalTagDeleted  = 0x4
	JournalTagLast     = 0x8
)

const (
	JournalHeaderSize       = 12
	JournalBlockTailSize    = 4 // jbd2_journal_block_tail: crc32c of a descriptor or revoke block
	JournalChecksumCRC32c   = 4 // s_checksum_type
	JournalUUIDSize         = 16
	JournalRevokeHeaderSize = 16 // jbd2_journal_revoke_header_t: the header and r_count
)

// Marshal writes h to b[:JournalHeaderSize].
func (h JournalHeader) Marshal(b []byte) {
	be.PutUint32(b[0x0:], h.Magic)
	be.PutUint32(b[0x4:], h.BlockType)
	be.PutUint32(b[0x8:], h.Sequence)
}

// Unmarshal reads h from b[:JournalHeaderSize].
func (h *JournalHeader) Unmarshal(b []byte) {
	*h = JournalHeader{Magic: be.Uint32(b[0x0:]), BlockType: be.Uint32(b[0x4:]), Sequence: be.Uint32(b[0x8:])}
}

// JournalSuperBlockChecksum is s_checksum of the encoded journal
// superblock b (csum v2/v3): crc32c(~0) over its 1024 bytes with the field
// taken as zero.
func JournalSuperBlockChecksum(b []byte) uint32 {
	return checksumWithout(^uint32(0), nil, b[:1024], func(c []byte) { be.PutUint32(c[0xFC:], 0) })
}

// JournalTag is journal_block_tag3_t (csum v3) or journal_block_tag_t, one
// logged block in a descriptor block.
type JournalTag struct {
	BlockNr  uint64 // t_blocknr, t_blocknr_high
	Flags    uint32 // t_flags: JournalTag*
	Checksum uint32 // t_checksum: 32 bits with v3, the low 16 with v2
}

// JournalTagBytes is the size of a tag under the journal's incompatible
// features (journal_tag_bytes).
func JournalTagBytes(incompat uint32) int {
	if incompat&JournalIncompatCsumV3 != 0 {
		return 16
	}
	sz := 12
	if incompat&JournalIncompatCsumV2 != 0 {
		sz += 2
	}
	if incompat&JournalIncompat64bit == 0 {
		sz -= 4
	}
	return sz
}

// Marshal writes t to b as the features incompat lay it out.
func (t JournalTag) Marshal(b []byte, incompat uint32) {
	be.PutUint32(b[0x0:], uint32(t.BlockNr))
	if incompat&JournalIncompatCsumV3 != 0 {
		be.PutUint32(b[0x4:], t.Flags)
		be.PutUint32(b[0x8:], uint32(t.BlockNr>>32))
		be.PutUint32(b[0xC:], t.Checksum)
		return
	}
	be.PutUint16(b[0x4:], uint16(t.Checksum))
	be.PutUint16(b[0x6:], uint16(t.Flags))
	if incompat&JournalIncompat64bit != 0 {
		be.PutUint32(b[0x8:], uint32(t.BlockNr>>32))
	}
}

// Unmarshal reads t from b as the features incompat lay it out.
func (t *JournalTag) Unmarshal(b []byte, incompat uint32) {
	*t = JournalTag{BlockNr: uint64(be.Uint32(b[0x0:]))}
	if incompat&JournalIncompatCsumV3 != 0 {
		t.Flags = be.Uint32(b[0x4:])
		t.BlockNr |= uint64(be.Uint32(b[0x8:])) << 32
		t.Checksum = be.Uint32(b[0xC:])
		return
	}
	t.Checksum = uint32(be.Uint16(b[0x4:]))
	t.Flags = uint32(be.Uint16(b[0x6:]))
	if incompat&JournalIncompat64bit != 0 {
		t.BlockNr |= uint64(be.Uint32(b[0x8:])) << 32
	}
}

// JournalCommit is struct commit_header (journal.rst, "Commit Block").
type JournalCommit struct {
	Header       JournalHeader // 0x0
	ChecksumType uint8         // 0xC h_chksum_type
	ChecksumSize uint8         // 0xD h_chksum_size
	Padding      [2]uint8      // 0xE h_padding
	Checksum     [8]uint32     // 0x10 h_chksum: [0] with csum v2/v3
	CommitSec    uint64        // 0x30 h_commit_sec
	CommitNsec   uint32        // 0x38 h_commit_nsec
}

// Marshal writes c to b[:0x3C].
func (c JournalCommit) Marshal(b []byte) { encode(b, be, c) }

// Unmarshal reads c from b[:0x3C].
func (c *JournalCommit) Unmarshal(b []byte) { decode(b, be, c) }

// JournalCommitChecksum is h_chksum[0] of a commit block b (csum v2/v3):
// crc32c from the log's seed over the block with the field taken as zero.
func JournalCommitChecksum(seed uint32, b []byte) uint32 {
	return checksumWithout(seed, nil, b, func(c []byte) { be.PutUint32(c[0x10:], 0) })
}

// JournalBlockTailChecksum is the tail of a descriptor or revoke block b
// (csum v2/v3): crc32c from the log's seed over the block with its last
// JournalBlockTailSize bytes taken as zero.
func JournalBlockTailChecksum(seed uint32, b []byte) uint32 {
	return checksumWithout(seed, nil, b, func(c []byte) { be.PutUint32(c[len(c)-JournalBlockTailSize:], 0) })
}

// JournalTagChecksum is a v3 tag's checksum of the logged (escaped) block
// b in transaction seq: crc32c from the log's seed over be32 seq, then b.
func JournalTagChecksum(seed, seq uint32, b []byte) uint32 {
	return CRC32c(CRC32c(seed, be.AppendUint32(nil, seq)), b)
}
