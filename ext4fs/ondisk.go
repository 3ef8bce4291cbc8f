package ext4fs

import (
	"encoding/binary"
	"fmt"
	"time"
)

// On-disk structures, named after the kernel's ext4 documentation
// (Documentation/filesystems/ext4/super.rst, group_descr.rst, inodes.rst,
// ifork.rst, directory.rst, attributes.rst). Only the fields the reader
// uses are decoded.

var le = binary.LittleEndian

const (
	superblockOffset = 1024
	superblockSize   = 1024
	superMagic       = 0xEF53

	rootIno = 2

	// Feature bits the reader knows (super.rst).
	compatDirIndex = 0x20

	incompatFiletype  = 0x2
	incompatRecover   = 0x4
	incompatJournalDv = 0x8
	incompatMetaBG    = 0x10
	incompatExtents   = 0x40
	incompat64bit     = 0x80
	incompatMMP       = 0x100
	incompatFlexBG    = 0x200
	incompatEAInode   = 0x400
	incompatDirData   = 0x1000
	incompatCsumSeed  = 0x2000
	incompatLargeDir  = 0x4000
	incompatInline    = 0x8000
	incompatEncrypt   = 0x10000
	incompatCasefold  = 0x20000

	roCompatMetadataCsum = 0x400

	// incompatKnown is what the reader can read: everything else (meta_bg
	// moves the descriptors, inline_data and dirdata change inodes and
	// directory entries, ea_inode puts xattr values in inodes, encryption
	// scrambles names and data) is refused in Open.
	incompatKnown = incompatFiletype | incompatRecover | incompatExtents | incompat64bit |
		incompatMMP | incompatFlexBG | incompatCsumSeed | incompatLargeDir | incompatCasefold

	// Inode flags (inodes.rst, i_flags).
	flagIndex    = 0x1000  // EXT4_INDEX_FL: hashed directory
	flagHugeFile = 0x40000 // EXT4_HUGE_FILE_FL
	flagExtents  = 0x80000 // EXT4_EXTENTS_FL
	flagEAInode  = 0x200000
	flagInline   = 0x10000000
)

// superblock holds the fields of struct ext4_super_block the reader uses.
type superblock struct {
	InodesCount     uint32   // 0x0 s_inodes_count
	BlocksCountLo   uint32   // 0x4 s_blocks_count_lo
	FirstDataBlock  uint32   // 0x14 s_first_data_block
	LogBlockSize    uint32   // 0x18 s_log_block_size
	BlocksPerGroup  uint32   // 0x20 s_blocks_per_group
	InodesPerGroup  uint32   // 0x28 s_inodes_per_group
	Magic           uint16   // 0x38 s_magic
	RevLevel        uint32   // 0x4C s_rev_level
	InodeSize       uint16   // 0x58 s_inode_size
	FeatureCompat   uint32   // 0x5C s_feature_compat
	FeatureIncompat uint32   // 0x60 s_feature_incompat
	FeatureRoCompat uint32   // 0x64 s_feature_ro_compat
	UUID            [16]byte // 0x68 s_uuid
	DescSize        uint16   // 0xFE s_desc_size
	BlocksCountHi   uint32   // 0x150 s_blocks_count_hi
	ChecksumType    uint8    // 0x175 s_checksum_type
	ChecksumSeed    uint32   // 0x270 s_checksum_seed
	Checksum        uint32   // 0x3FC s_checksum
}

func parseSuperblock(b []byte) superblock {
	var sb superblock
	sb.InodesCount = le.Uint32(b[0x0:])
	sb.BlocksCountLo = le.Uint32(b[0x4:])
	sb.FirstDataBlock = le.Uint32(b[0x14:])
	sb.LogBlockSize = le.Uint32(b[0x18:])
	sb.BlocksPerGroup = le.Uint32(b[0x20:])
	sb.InodesPerGroup = le.Uint32(b[0x28:])
	sb.Magic = le.Uint16(b[0x38:])
	sb.RevLevel = le.Uint32(b[0x4C:])
	sb.InodeSize = le.Uint16(b[0x58:])
	sb.FeatureCompat = le.Uint32(b[0x5C:])
	sb.FeatureIncompat = le.Uint32(b[0x60:])
	sb.FeatureRoCompat = le.Uint32(b[0x64:])
	copy(sb.UUID[:], b[0x68:])
	sb.DescSize = le.Uint16(b[0xFE:])
	sb.BlocksCountHi = le.Uint32(b[0x150:])
	sb.ChecksumType = b[0x175]
	sb.ChecksumSeed = le.Uint32(b[0x270:])
	sb.Checksum = le.Uint32(b[0x3FC:])
	return sb
}

// groupDesc holds the fields of struct ext4_group_desc the reader uses.
type groupDesc struct {
	InodeTableLo uint32 // 0x8 bg_inode_table_lo
	Checksum     uint16 // 0x1E bg_checksum
	InodeTableHi uint32 // 0x28 bg_inode_table_hi (64bit only)
}

func parseGroupDesc(b []byte) groupDesc {
	g := groupDesc{InodeTableLo: le.Uint32(b[0x8:]), Checksum: le.Uint16(b[0x1E:])}
	if len(b) >= 0x2C {
		g.InodeTableHi = le.Uint32(b[0x28:])
	}
	return g
}

// rawInode holds the fields of struct ext4_inode the reader uses.
type rawInode struct {
	Mode        uint16   // 0x0 i_mode
	UIDLo       uint16   // 0x2 i_uid
	SizeLo      uint32   // 0x4 i_size_lo
	Mtime       uint32   // 0x10 i_mtime
	GIDLo       uint16   // 0x18 i_gid
	LinksCount  uint16   // 0x1A i_links_count
	Flags       uint32   // 0x20 i_flags
	Block       [60]byte // 0x28 i_block: extent tree root, fast symlink, device
	Generation  uint32   // 0x64 i_generation
	FileACLLo   uint32   // 0x68 i_file_acl_lo
	SizeHi      uint32   // 0x6C i_size_high
	FileACLHi   uint16   // 0x76 l_i_file_acl_high
	UIDHi       uint16   // 0x78 l_i_uid_high
	GIDHi       uint16   // 0x7A l_i_gid_high
	ChecksumLo  uint16   // 0x7C l_i_checksum_lo
	ExtraIsize  uint16   // 0x80 i_extra_isize
	ChecksumHi  uint16   // 0x82 i_checksum_hi (when i_extra_isize >= 4)
	MtimeExtra  uint32   // 0x88 i_mtime_extra (when i_extra_isize >= 0x10)
	extraFields bool     // the inode is larger than 128 bytes
}

func parseInode(b []byte) rawInode {
	var in rawInode
	in.Mode = le.Uint16(b[0x0:])
	in.UIDLo = le.Uint16(b[0x2:])
	in.SizeLo = le.Uint32(b[0x4:])
	in.Mtime = le.Uint32(b[0x10:])
	in.GIDLo = le.Uint16(b[0x18:])
	in.LinksCount = le.Uint16(b[0x1A:])
	in.Flags = le.Uint32(b[0x20:])
	copy(in.Block[:], b[0x28:0x64])
	in.Generation = le.Uint32(b[0x64:])
	in.FileACLLo = le.Uint32(b[0x68:])
	in.SizeHi = le.Uint32(b[0x6C:])
	in.FileACLHi = le.Uint16(b[0x76:])
	in.UIDHi = le.Uint16(b[0x78:])
	in.GIDHi = le.Uint16(b[0x7A:])
	in.ChecksumLo = le.Uint16(b[0x7C:])
	if len(b) > 0x82 {
		in.extraFields = true
		in.ExtraIsize = le.Uint16(b[0x80:])
		if in.ExtraIsize >= 4 {
			in.ChecksumHi = le.Uint16(b[0x82:])
		}
		if in.ExtraIsize >= 0xC {
			in.MtimeExtra = le.Uint32(b[0x88:])
		}
	}
	return in
}

// mtime decodes i_mtime and i_mtime_extra: two epoch bits extend the
// signed 32-bit seconds, the other 30 bits are nanoseconds (inodes.rst,
// "Inode Timestamps").
func (in *rawInode) mtime() time.Time {
	sec := int64(int32(in.Mtime))
	sec += int64(in.MtimeExtra&3) << 32
	nsec := int64(in.MtimeExtra >> 2)
	if nsec > 999999999 {
		nsec = 999999999
	}
	return time.Unix(sec, nsec)
}

// device decodes i_block as the kernel's old_decode_dev (i_block[0]) or
// new_decode_dev (i_block[1]).
func (in *rawInode) device() (major, minor uint32) {
	if old := le.Uint32(in.Block[0:]); old != 0 {
		return old >> 8 & 0xff, old & 0xff
	}
	dev := le.Uint32(in.Block[4:])
	return dev >> 8 & 0xfff, dev&0xff | dev>>12&0xfff00
}

// Extent tree nodes (ifork.rst): a 12-byte header, then 12-byte entries;
// blocks other than the root end in a 4-byte checksum tail.
const (
	extentMagic    = 0xF30A
	extentEntry    = 12
	maxExtentDepth = 5 // EXT4_MAX_EXTENT_DEPTH
	initMaxLen     = 32768
)

type extentHeader struct {
	Magic   uint16 // 0x0 eh_magic
	Entries uint16 // 0x2 eh_entries
	Max     uint16 // 0x4 eh_max
	Depth   uint16 // 0x6 eh_depth
}

func parseExtentHeader(b []byte) (extentHeader, error) {
	h := extentHeader{Magic: le.Uint16(b[0:]), Entries: le.Uint16(b[2:]), Max: le.Uint16(b[4:]), Depth: le.Uint16(b[6:])}
	capacity := (len(b) - 12) / extentEntry
	switch {
	case h.Magic != extentMagic:
		return h, fmt.Errorf("bad extent header magic %#04x", h.Magic)
	case int(h.Max) > capacity:
		return h, fmt.Errorf("extent node claims room for %d entries, has %d", h.Max, capacity)
	case h.Entries > h.Max:
		return h, fmt.Errorf("extent node has %d entries, room for %d", h.Entries, h.Max)
	case h.Depth > maxExtentDepth:
		return h, fmt.Errorf("extent tree depth %d exceeds %d", h.Depth, maxExtentDepth)
	}
	return h, nil
}
