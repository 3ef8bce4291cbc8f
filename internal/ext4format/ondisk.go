package ext4format

import (
	"encoding/binary"
	"io/fs"
	"time"
)

// The structures, in the order of the kernel's Documentation/filesystems/
// ext4/ (super.rst, group_descr.rst, inodes.rst, ifork.rst, directory.rst,
// attributes.rst, journal.rst). All are little-endian but the journal's,
// which is big-endian.

var le = binary.LittleEndian

// encode and decode lay v out with encoding/binary; b must be long enough.
func encode(b []byte, order binary.ByteOrder, v any) {
	if _, err := binary.Encode(b, order, v); err != nil {
		panic("ext4format: " + err.Error())
	}
}

func decode(b []byte, order binary.ByteOrder, v any) {
	if _, err := binary.Decode(b, order, v); err != nil {
		panic("ext4format: " + err.Error())
	}
}

// SuperBlock is struct ext4_super_block (super.rst), SuperBlockSize bytes.
type SuperBlock struct {
	InodesCount          uint32     // 0x0 s_inodes_count
	BlocksCountLo        uint32     // 0x4 s_blocks_count_lo
	RBlocksCountLo       uint32     // 0x8 s_r_blocks_count_lo
	FreeBlocksCountLo    uint32     // 0xC s_free_blocks_count_lo
	FreeInodesCount      uint32     // 0x10 s_free_inodes_count
	FirstDataBlock       uint32     // 0x14 s_first_data_block
	LogBlockSize         uint32     // 0x18 s_log_block_size
	LogClusterSize       uint32     // 0x1C s_log_cluster_size
	BlocksPerGroup       uint32     // 0x20 s_blocks_per_group
	ClustersPerGroup     uint32     // 0x24 s_clusters_per_group
	InodesPerGroup       uint32     // 0x28 s_inodes_per_group
	Mtime                uint32     // 0x2C s_mtime
	Wtime                uint32     // 0x30 s_wtime
	MntCount             uint16     // 0x34 s_mnt_count
	MaxMntCount          uint16     // 0x36 s_max_mnt_count (0xFFFF = -1: no forced check)
	Magic                uint16     // 0x38 s_magic
	State                uint16     // 0x3A s_state
	Errors               uint16     // 0x3C s_errors
	MinorRevLevel        uint16     // 0x3E s_minor_rev_level
	Lastcheck            uint32     // 0x40 s_lastcheck
	Checkinterval        uint32     // 0x44 s_checkinterval
	CreatorOS            uint32     // 0x48 s_creator_os
	RevLevel             uint32     // 0x4C s_rev_level
	DefResuid            uint16     // 0x50 s_def_resuid
	DefResgid            uint16     // 0x52 s_def_resgid
	FirstIno             uint32     // 0x54 s_first_ino
	InodeSize            uint16     // 0x58 s_inode_size
	BlockGroupNr         uint16     // 0x5A s_block_group_nr
	FeatureCompat        uint32     // 0x5C s_feature_compat
	FeatureIncompat      uint32     // 0x60 s_feature_incompat
	FeatureRoCompat      uint32     // 0x64 s_feature_ro_compat
	UUID                 [16]byte   // 0x68 s_uuid
	VolumeName           [16]byte   // 0x78 s_volume_name
	LastMounted          [64]byte   // 0x88 s_last_mounted
	AlgorithmUsageBitmap uint32     // 0xC8 s_algorithm_usage_bitmap
	PreallocBlocks       uint8      // 0xCC s_prealloc_blocks
	PreallocDirBlocks    uint8      // 0xCD s_prealloc_dir_blocks
	ReservedGdtBlocks    uint16     // 0xCE s_reserved_gdt_blocks
	JournalUUID          [16]byte   // 0xD0 s_journal_uuid
	JournalInum          uint32     // 0xE0 s_journal_inum
	JournalDev           uint32     // 0xE4 s_journal_dev
	LastOrphan           uint32     // 0xE8 s_last_orphan
	HashSeed             [16]byte   // 0xEC s_hash_seed (four __le32, kept as the bytes)
	DefHashVersion       uint8      // 0xFC s_def_hash_version
	JnlBackupType        uint8      // 0xFD s_jnl_backup_type
	DescSize             uint16     // 0xFE s_desc_size
	DefaultMountOpts     uint32     // 0x100 s_default_mount_opts
	FirstMetaBg          uint32     // 0x104 s_first_meta_bg
	MkfsTime             uint32     // 0x108 s_mkfs_time
	JnlBlocks            [17]uint32 // 0x10C s_jnl_blocks: the journal's i_block, then i_size_high, i_size
	BlocksCountHi        uint32     // 0x150 s_blocks_count_hi
	RBlocksCountHi       uint32     // 0x154 s_r_blocks_count_hi
	FreeBlocksCountHi    uint32     // 0x158 s_free_blocks_count_hi
	MinExtraIsize        uint16     // 0x15C s_min_extra_isize
	WantExtraIsize       uint16     // 0x15E s_want_extra_isize
	Flags                uint32     // 0x160 s_flags
	RaidStride           uint16     // 0x164 s_raid_stride
	MMPInterval          uint16     // 0x166 s_mmp_interval
	MMPBlock             uint64     // 0x168 s_mmp_block
	RaidStripeWidth      uint32     // 0x170 s_raid_stripe_width
	LogGroupsPerFlex     uint8      // 0x174 s_log_groups_per_flex
	ChecksumType         uint8      // 0x175 s_checksum_type
	EncryptionLevel      uint8      // 0x176 s_encryption_level
	ReservedPad          uint8      // 0x177 s_reserved_pad
	KbytesWritten        uint64     // 0x178 s_kbytes_written
	SnapshotInum         uint32     // 0x180 s_snapshot_inum
	SnapshotID           uint32     // 0x184 s_snapshot_id
	SnapshotRBlocksCount uint64     // 0x188 s_snapshot_r_blocks_count
	SnapshotList         uint32     // 0x190 s_snapshot_list
	ErrorCount           uint32     // 0x194 s_error_count
	FirstErrorTime       uint32     // 0x198 s_first_error_time
	FirstErrorIno        uint32     // 0x19C s_first_error_ino
	FirstErrorBlock      uint64     // 0x1A0 s_first_error_block
	FirstErrorFunc       [32]byte   // 0x1A8 s_first_error_func
	FirstErrorLine       uint32     // 0x1C8 s_first_error_line
	LastErrorTime        uint32     // 0x1CC s_last_error_time
	LastErrorIno         uint32     // 0x1D0 s_last_error_ino
	LastErrorLine        uint32     // 0x1D4 s_last_error_line
	LastErrorBlock       uint64     // 0x1D8 s_last_error_block
	LastErrorFunc        [32]byte   // 0x1E0 s_last_error_func
	MountOpts            [64]byte   // 0x200 s_mount_opts
	UsrQuotaInum         uint32     // 0x240 s_usr_quota_inum
	GrpQuotaInum         uint32     // 0x244 s_grp_quota_inum
	OverheadClusters     uint32     // 0x248 s_overhead_clusters
	BackupBgs            [2]uint32  // 0x24C s_backup_bgs
	EncryptAlgos         [4]uint8   // 0x254 s_encrypt_algos
	EncryptPwSalt        [16]byte   // 0x258 s_encrypt_pw_salt
	LpfIno               uint32     // 0x268 s_lpf_ino
	PrjQuotaInum         uint32     // 0x26C s_prj_quota_inum
	ChecksumSeed         uint32     // 0x270 s_checksum_seed
	WtimeHi              uint8      // 0x274 s_wtime_hi
	MtimeHi              uint8      // 0x275 s_mtime_hi
	MkfsTimeHi           uint8      // 0x276 s_mkfs_time_hi
	LastcheckHi          uint8      // 0x277 s_lastcheck_hi
	FirstErrorTimeHi     uint8      // 0x278 s_first_error_time_hi
	LastErrorTimeHi      uint8      // 0x279 s_last_error_time_hi
	FirstErrorErrcode    uint8      // 0x27A s_first_error_errcode
	LastErrorErrcode     uint8      // 0x27B s_last_error_errcode
	Encoding             uint16     // 0x27C s_encoding
	EncodingFlags        uint16     // 0x27E s_encoding_flags
	OrphanFileInum       uint32     // 0x280 s_orphan_file_inum
	Reserved             [94]uint32 // 0x284 s_reserved
	Checksum             uint32     // 0x3FC s_checksum
}

// Marshal writes s to b[:SuperBlockSize].
func (s SuperBlock) Marshal(b []byte) { encode(b, le, s) }

// Unmarshal reads s from b[:SuperBlockSize].
func (s *SuperBlock) Unmarshal(b []byte) { decode(b, le, s) }

// GroupDesc is struct ext4_group_desc (group_descr.rst): GroupDescSize
// bytes without the 64bit feature, the whole GroupDesc64Size with it.
type GroupDesc struct {
	BlockBitmapLo     uint32 // 0x0 bg_block_bitmap_lo
	InodeBitmapLo     uint32 // 0x4 bg_inode_bitmap_lo
	InodeTableLo      uint32 // 0x8 bg_inode_table_lo
	FreeBlocksCountLo uint16 // 0xC bg_free_blocks_count_lo
	FreeInodesCountLo uint16 // 0xE bg_free_inodes_count_lo
	UsedDirsCountLo   uint16 // 0x10 bg_used_dirs_count_lo
	Flags             uint16 // 0x12 bg_flags
	ExcludeBitmapLo   uint32 // 0x14 bg_exclude_bitmap_lo
	BlockBitmapCsumLo uint16 // 0x18 bg_block_bitmap_csum_lo
	InodeBitmapCsumLo uint16 // 0x1A bg_inode_bitmap_csum_lo
	ItableUnusedLo    uint16 // 0x1C bg_itable_unused_lo
	Checksum          uint16 // 0x1E bg_checksum
	BlockBitmapHi     uint32 // 0x20 bg_block_bitmap_hi
	InodeBitmapHi     uint32 // 0x24 bg_inode_bitmap_hi
	InodeTableHi      uint32 // 0x28 bg_inode_table_hi
	FreeBlocksCountHi uint16 // 0x2C bg_free_blocks_count_hi
	FreeInodesCountHi uint16 // 0x2E bg_free_inodes_count_hi
	UsedDirsCountHi   uint16 // 0x30 bg_used_dirs_count_hi
	ItableUnusedHi    uint16 // 0x32 bg_itable_unused_hi
	ExcludeBitmapHi   uint32 // 0x34 bg_exclude_bitmap_hi
	BlockBitmapCsumHi uint16 // 0x38 bg_block_bitmap_csum_hi
	InodeBitmapCsumHi uint16 // 0x3A bg_inode_bitmap_csum_hi
	Reserved          uint32 // 0x3C bg_reserved
}

// Marshal writes the first len(b) bytes of g (s_desc_size: 32, or 64 or
// more with 64bit, the rest left as it is).
func (g GroupDesc) Marshal(b []byte) {
	var full [GroupDesc64Size]byte
	encode(full[:], le, g)
	copy(b, full[:])
}

// Unmarshal reads g from b, a descriptor of len(b) bytes: the fields past
// a 32-byte one are zero.
func (g *GroupDesc) Unmarshal(b []byte) {
	var full [GroupDesc64Size]byte
	copy(full[:], b)
	decode(full[:], le, g)
}

// Inode is struct ext4_inode (inodes.rst) up to i_projid. The fields from
// i_extra_isize on exist only in inodes larger than GoodOldInodeSize and
// count only as far as i_extra_isize reaches; after them the in-inode
// extended attributes (an XattrIbodyHeader and entries) may follow.
type Inode struct {
	Mode        uint16   // 0x0 i_mode (internal/unixmode's encoding)
	UIDLo       uint16   // 0x2 i_uid
	SizeLo      uint32   // 0x4 i_size_lo
	Atime       uint32   // 0x8 i_atime
	Ctime       uint32   // 0xC i_ctime
	Mtime       uint32   // 0x10 i_mtime
	Dtime       uint32   // 0x14 i_dtime
	GIDLo       uint16   // 0x18 i_gid
	LinksCount  uint16   // 0x1A i_links_count
	BlocksLo    uint32   // 0x1C i_blocks_lo (512-byte units without huge_file's flag)
	Flags       uint32   // 0x20 i_flags
	Version     uint32   // 0x24 l_i_version (osd1)
	Block       [60]byte // 0x28 i_block: extent tree root, fast symlink target or device number
	Generation  uint32   // 0x64 i_generation
	FileACLLo   uint32   // 0x68 i_file_acl_lo: the xattr block
	SizeHi      uint32   // 0x6C i_size_high
	ObsoFaddr   uint32   // 0x70 i_obso_faddr
	BlocksHi    uint16   // 0x74 l_i_blocks_high (osd2)
	FileACLHi   uint16   // 0x76 l_i_file_acl_high
	UIDHi       uint16   // 0x78 l_i_uid_high
	GIDHi       uint16   // 0x7A l_i_gid_high
	ChecksumLo  uint16   // 0x7C l_i_checksum_lo
	ReservedOsd uint16   // 0x7E l_i_reserved
	ExtraIsize  uint16   // 0x80 i_extra_isize
	ChecksumHi  uint16   // 0x82 i_checksum_hi
	CtimeExtra  uint32   // 0x84 i_ctime_extra
	MtimeExtra  uint32   // 0x88 i_mtime_extra
	AtimeExtra  uint32   // 0x8C i_atime_extra
	Crtime      uint32   // 0x90 i_crtime
	CrtimeExtra uint32   // 0x94 i_crtime_extra
	VersionHi   uint32   // 0x98 i_version_hi
	Projid      uint32   // 0x9C i_projid
}

// Marshal writes n to b, an inode of len(b) bytes: the first
// GoodOldInodeSize, then the fields that lie inside both b and
// i_extra_isize. The bytes after them (the in-inode xattrs) are left as
// they are. By hand, not with encoding/binary: the writer encodes every
// inode.
func (n Inode) Marshal(b []byte) {
	le.PutUint16(b[0x0:], n.Mode)
	le.PutUint16(b[0x2:], n.UIDLo)
	le.PutUint32(b[0x4:], n.SizeLo)
	le.PutUint32(b[0x8:], n.Atime)
	le.PutUint32(b[0xC:], n.Ctime)
	le.PutUint32(b[0x10:], n.Mtime)
	le.PutUint32(b[0x14:], n.Dtime)
	le.PutUint16(b[0x18:], n.GIDLo)
	le.PutUint16(b[0x1A:], n.LinksCount)
	le.PutUint32(b[0x1C:], n.BlocksLo)
	le.PutUint32(b[0x20:], n.Flags)
	le.PutUint32(b[0x24:], n.Version)
	copy(b[0x28:0x64], n.Block[:])
	le.PutUint32(b[0x64:], n.Generation)
	le.PutUint32(b[0x68:], n.FileACLLo)
	le.PutUint32(b[0x6C:], n.SizeHi)
	le.PutUint32(b[0x70:], n.ObsoFaddr)
	le.PutUint16(b[0x74:], n.BlocksHi)
	le.PutUint16(b[0x76:], n.FileACLHi)
	le.PutUint16(b[0x78:], n.UIDHi)
	le.PutUint16(b[0x7A:], n.GIDHi)
	le.PutUint16(b[0x7C:], n.ChecksumLo)
	le.PutUint16(b[0x7E:], n.ReservedOsd)
	if len(b) <= GoodOldInodeSize {
		return
	}
	le.PutUint16(b[0x80:], n.ExtraIsize)
	end := n.extraEnd(len(b))
	put16 := func(off int, v uint16) {
		if off+2 <= end {
			le.PutUint16(b[off:], v)
		}
	}
	put32 := func(off int, v uint32) {
		if off+4 <= end {
			le.PutUint32(b[off:], v)
		}
	}
	put16(0x82, n.ChecksumHi)
	put32(0x84, n.CtimeExtra)
	put32(0x88, n.MtimeExtra)
	put32(0x8C, n.AtimeExtra)
	put32(0x90, n.Crtime)
	put32(0x94, n.CrtimeExtra)
	put32(0x98, n.VersionHi)
	put32(0x9C, n.Projid)
}

// Unmarshal reads n from b, an inode of len(b) bytes; the fields past
// GoodOldInodeSize that lie outside b or i_extra_isize are zero.
func (n *Inode) Unmarshal(b []byte) {
	*n = Inode{
		Mode: le.Uint16(b[0x0:]), UIDLo: le.Uint16(b[0x2:]), SizeLo: le.Uint32(b[0x4:]),
		Atime: le.Uint32(b[0x8:]), Ctime: le.Uint32(b[0xC:]), Mtime: le.Uint32(b[0x10:]),
		Dtime: le.Uint32(b[0x14:]), GIDLo: le.Uint16(b[0x18:]), LinksCount: le.Uint16(b[0x1A:]),
		BlocksLo: le.Uint32(b[0x1C:]), Flags: le.Uint32(b[0x20:]), Version: le.Uint32(b[0x24:]),
		Generation: le.Uint32(b[0x64:]), FileACLLo: le.Uint32(b[0x68:]), SizeHi: le.Uint32(b[0x6C:]),
		ObsoFaddr: le.Uint32(b[0x70:]), BlocksHi: le.Uint16(b[0x74:]), FileACLHi: le.Uint16(b[0x76:]),
		UIDHi: le.Uint16(b[0x78:]), GIDHi: le.Uint16(b[0x7A:]), ChecksumLo: le.Uint16(b[0x7C:]),
		ReservedOsd: le.Uint16(b[0x7E:]),
	}
	copy(n.Block[:], b[0x28:0x64])
	if len(b) <= GoodOldInodeSize {
		return
	}
	n.ExtraIsize = le.Uint16(b[0x80:])
	end := n.extraEnd(len(b))
	get16 := func(off int) uint16 {
		if off+2 <= end {
			return le.Uint16(b[off:])
		}
		return 0
	}
	get32 := func(off int) uint32 {
		if off+4 <= end {
			return le.Uint32(b[off:])
		}
		return 0
	}
	n.ChecksumHi = get16(0x82)
	n.CtimeExtra = get32(0x84)
	n.MtimeExtra = get32(0x88)
	n.AtimeExtra = get32(0x8C)
	n.Crtime = get32(0x90)
	n.CrtimeExtra = get32(0x94)
	n.VersionHi = get32(0x98)
	n.Projid = get32(0x9C)
}

// extraEnd is where the fields i_extra_isize covers end in an inode of
// size bytes (EXT4_FITS_IN_INODE).
func (n *Inode) extraEnd(size int) int {
	return min(size, GoodOldInodeSize+int(n.ExtraIsize))
}

// HasChecksumHi reports whether an inode of size bytes holds
// i_checksum_hi: without it the checksum is 16 bits.
func (n *Inode) HasChecksumHi(size int) bool {
	return size > GoodOldInodeSize && n.extraEnd(size) >= GoodOldInodeSize+4
}

// EncodeTime splits t into an inode's 32-bit seconds field and its _extra
// field: two epoch bits extending the seconds to 34 bits, then the
// nanoseconds (inodes.rst, "Inode Timestamps"). t must lie in 1901-12-13
// to 2446-05-10 (ext4img's ClampTime makes it so).
func EncodeTime(t time.Time) (sec, extra uint32) {
	s, nsec := t.Unix(), uint32(t.Nanosecond())
	epoch := uint32((s-int64(int32(s)))>>32) & 3
	return uint32(int32(s)), epoch | nsec<<2
}

// DecodeTime is the time of a seconds field and its _extra field; more
// than 999,999,999 nanoseconds count as that many.
func DecodeTime(sec, extra uint32) time.Time {
	s := int64(int32(sec)) + int64(extra&3)<<32
	nsec := min(int64(extra>>2), 999999999)
	return time.Unix(s, nsec)
}

// EncodeDevice stores a device number in i_block as the kernel does: the
// old 16-bit encoding in i_block[0] when both numbers are below 256,
// otherwise the new 32-bit one in i_block[1] (old_encode_dev /
// new_encode_dev). The word not used, and i_block[2], are zeroed, as the
// kernel's ext4_do_update_inode does, so that re-encoding an inode's
// device never leaves the old number to be read back.
func EncodeDevice(block *[60]byte, major, minor uint32) {
	clear(block[:12])
	if major < 256 && minor < 256 {
		le.PutUint32(block[0:], major<<8|minor)
		return
	}
	le.PutUint32(block[4:], minor&0xff|major<<8|(minor&^0xff)<<12)
}

// DecodeDevice reads a device number from i_block (old_decode_dev when
// i_block[0] is set, else new_decode_dev of i_block[1]).
func DecodeDevice(block *[60]byte) (major, minor uint32) {
	if old := le.Uint32(block[0:]); old != 0 {
		return old >> 8 & 0xff, old & 0xff
	}
	dev := le.Uint32(block[4:])
	return dev >> 8 & 0xfff, dev&0xff | dev>>12&0xfff00
}

// ExtentHeader is struct ext4_extent_header (ifork.rst); it starts i_block
// and every extent tree block, and ExtentEntrySize-byte entries follow it.
type ExtentHeader struct {
	Magic      uint16 // 0x0 eh_magic
	Entries    uint16 // 0x2 eh_entries
	Max        uint16 // 0x4 eh_max
	Depth      uint16 // 0x6 eh_depth: 0 for leaves
	Generation uint32 // 0x8 eh_generation
}

// Marshal writes h to b[:ExtentHeaderSize].
func (h ExtentHeader) Marshal(b []byte) {
	le.PutUint16(b[0x0:], h.Magic)
	le.PutUint16(b[0x2:], h.Entries)
	le.PutUint16(b[0x4:], h.Max)
	le.PutUint16(b[0x6:], h.Depth)
	le.PutUint32(b[0x8:], h.Generation)
}

// Unmarshal reads h from b[:ExtentHeaderSize].
func (h *ExtentHeader) Unmarshal(b []byte) {
	*h = ExtentHeader{Magic: le.Uint16(b[0x0:]), Entries: le.Uint16(b[0x2:]), Max: le.Uint16(b[0x4:]),
		Depth: le.Uint16(b[0x6:]), Generation: le.Uint32(b[0x8:])}
}

// ExtentTailOffset is where a tree block's ext4_extent_tail (its
// checksum) lies: after room for max entries.
func ExtentTailOffset(max uint16) int { return ExtentHeaderSize + ExtentEntrySize*int(max) }

// Extent is struct ext4_extent, a leaf entry (ifork.rst).
type Extent struct {
	Block   uint32 // 0x0 ee_block: first logical block
	Len     uint16 // 0x4 ee_len: above InitMaxLen, uninitialized and InitMaxLen too long
	StartHi uint16 // 0x6 ee_start_hi
	StartLo uint32 // 0x8 ee_start_lo
}

// Start is the extent's first physical block.
func (e *Extent) Start() uint64 { return uint64(e.StartHi)<<32 | uint64(e.StartLo) }

// Marshal writes e to b[:ExtentEntrySize].
func (e Extent) Marshal(b []byte) {
	le.PutUint32(b[0x0:], e.Block)
	le.PutUint16(b[0x4:], e.Len)
	le.PutUint16(b[0x6:], e.StartHi)
	le.PutUint32(b[0x8:], e.StartLo)
}

// Unmarshal reads e from b[:ExtentEntrySize].
func (e *Extent) Unmarshal(b []byte) {
	*e = Extent{Block: le.Uint32(b[0x0:]), Len: le.Uint16(b[0x4:]), StartHi: le.Uint16(b[0x6:]), StartLo: le.Uint32(b[0x8:])}
}

// ExtentIdx is struct ext4_extent_idx, an interior entry (ifork.rst).
type ExtentIdx struct {
	Block  uint32 // 0x0 ei_block: first logical block covered
	LeafLo uint32 // 0x4 ei_leaf_lo: the child tree block
	LeafHi uint16 // 0x8 ei_leaf_hi
	Unused uint16 // 0xA ei_unused
}

// Leaf is the child tree block.
func (e *ExtentIdx) Leaf() uint64 { return uint64(e.LeafHi)<<32 | uint64(e.LeafLo) }

// Marshal writes e to b[:ExtentEntrySize].
func (e ExtentIdx) Marshal(b []byte) {
	le.PutUint32(b[0x0:], e.Block)
	le.PutUint32(b[0x4:], e.LeafLo)
	le.PutUint16(b[0x8:], e.LeafHi)
	le.PutUint16(b[0xA:], e.Unused)
}

// Unmarshal reads e from b[:ExtentEntrySize].
func (e *ExtentIdx) Unmarshal(b []byte) {
	*e = ExtentIdx{Block: le.Uint32(b[0x0:]), LeafLo: le.Uint32(b[0x4:]), LeafHi: le.Uint16(b[0x8:]), Unused: le.Uint16(b[0xA:])}
}

// DirEntry is struct ext4_dir_entry_2 (directory.rst) up to the name,
// which follows at DirEntryHeaderSize, NameLen bytes.
type DirEntry struct {
	Inode    uint32 // 0x0 inode: 0 for an unused entry
	RecLen   uint16 // 0x4 rec_len
	NameLen  uint8  // 0x6 name_len
	FileType uint8  // 0x7 file_type
}

// Marshal writes d to b[:DirEntryHeaderSize].
func (d DirEntry) Marshal(b []byte) {
	le.PutUint32(b[0x0:], d.Inode)
	le.PutUint16(b[0x4:], d.RecLen)
	b[0x6] = d.NameLen
	b[0x7] = d.FileType
}

// Unmarshal reads d from b[:DirEntryHeaderSize].
func (d *DirEntry) Unmarshal(b []byte) {
	*d = DirEntry{Inode: le.Uint32(b[0x0:]), RecLen: le.Uint16(b[0x4:]), NameLen: b[0x6], FileType: b[0x7]}
}

// DirEntrySize is the smallest rec_len of an entry with an n-byte name.
func DirEntrySize(n int) int { return (DirEntryHeaderSize + n + 3) &^ 3 }

// Directory entry file types (directory.rst, file_type).
const (
	FileTypeUnknown = 0
	FileTypeRegular = 1
	FileTypeDir     = 2
	FileTypeChrdev  = 3
	FileTypeBlkdev  = 4
	FileTypeFifo    = 5
	FileTypeSocket  = 6
	FileTypeSymlink = 7
	FileTypeDirCsum = 0xDE // the checksum tail's
)

var fileTypes = [...]fs.FileMode{
	FileTypeRegular: 0,
	FileTypeDir:     fs.ModeDir,
	FileTypeChrdev:  fs.ModeDevice | fs.ModeCharDevice,
	FileTypeBlkdev:  fs.ModeDevice,
	FileTypeFifo:    fs.ModeNamedPipe,
	FileTypeSocket:  fs.ModeSocket,
	FileTypeSymlink: fs.ModeSymlink,
}

// FileType is the file_type of an entry for a file of mode m;
// FileTypeUnknown for a type ext4 has not.
func FileType(m fs.FileMode) uint8 {
	for t := FileTypeRegular; t < len(fileTypes); t++ {
		if m.Type() == fileTypes[t] {
			return uint8(t)
		}
	}
	return FileTypeUnknown
}

// FileTypeMode is the fs.FileMode type bits of file_type t (none for a
// regular file and for an unknown type).
func FileTypeMode(t uint8) fs.FileMode {
	if int(t) < len(fileTypes) {
		return fileTypes[t]
	}
	return 0
}

// DirTail is struct ext4_dir_entry_tail (directory.rst): with
// metadata_csum, the last DirTailSize bytes of a leaf block, a fake entry
// holding the block's checksum.
type DirTail struct {
	ReservedZero1 uint32 // 0x0 det_reserved_zero1
	RecLen        uint16 // 0x4 det_rec_len: DirTailSize
	ReservedZero2 uint8  // 0x6 det_reserved_zero2
	FileType      uint8  // 0x7 det_reserved_ft: FileTypeDirCsum
	Checksum      uint32 // 0x8 det_checksum
}

// Marshal writes t to b[:DirTailSize].
func (t DirTail) Marshal(b []byte) {
	le.PutUint32(b[0x0:], t.ReservedZero1)
	le.PutUint16(b[0x4:], t.RecLen)
	b[0x6] = t.ReservedZero2
	b[0x7] = t.FileType
	le.PutUint32(b[0x8:], t.Checksum)
}

// Unmarshal reads t from b[:DirTailSize].
func (t *DirTail) Unmarshal(b []byte) {
	*t = DirTail{ReservedZero1: le.Uint32(b[0x0:]), RecLen: le.Uint16(b[0x4:]), ReservedZero2: b[0x6], FileType: b[0x7], Checksum: le.Uint32(b[0x8:])}
}

// DxRootInfo is struct dx_root_info (directory.rst, "Hash Tree
// Directories"), at DxRootInfoOffset in a hash-tree directory's block 0,
// after the "." and ".." entries.
type DxRootInfo struct {
	ReservedZero   uint32 // 0x0 reserved_zero
	HashVersion    uint8  // 0x4 hash_version
	InfoLength     uint8  // 0x5 info_length: 8
	IndirectLevels uint8  // 0x6 indirect_levels
	UnusedFlags    uint8  // 0x7 unused_flags
}

// Marshal writes i to b[:8].
func (i DxRootInfo) Marshal(b []byte) { encode(b, le, i) }

// Unmarshal reads i from b[:8].
func (i *DxRootInfo) Unmarshal(b []byte) { decode(b, le, i) }

// DxCountLimit is struct dx_countlimit: it starts an index block's
// entries, in the place of the first dx_entry's hash.
type DxCountLimit struct {
	Limit uint16 // 0x0 limit: room for this many entries
	Count uint16 // 0x2 count
}

// Marshal writes c to b[:4].
func (c DxCountLimit) Marshal(b []byte) {
	le.PutUint16(b[0x0:], c.Limit)
	le.PutUint16(b[0x2:], c.Count)
}

// Unmarshal reads c from b[:4].
func (c *DxCountLimit) Unmarshal(b []byte) {
	*c = DxCountLimit{Limit: le.Uint16(b[0x0:]), Count: le.Uint16(b[0x2:])}
}

// DxEntry is struct dx_entry, DxEntrySize bytes: the first entry's hash
// is the DxCountLimit.
type DxEntry struct {
	Hash  uint32 // 0x0 hash
	Block uint32 // 0x4 block: the directory block, counted from 0
}

// Marshal writes e to b[:DxEntrySize].
func (e DxEntry) Marshal(b []byte) {
	le.PutUint32(b[0x0:], e.Hash)
	le.PutUint32(b[0x4:], e.Block)
}

// Unmarshal reads e from b[:DxEntrySize].
func (e *DxEntry) Unmarshal(b []byte) {
	*e = DxEntry{Hash: le.Uint32(b[0x0:]), Block: le.Uint32(b[0x4:])}
}

// DxTail is struct dx_tail: with metadata_csum, after an index block's
// limit entries.
type DxTail struct {
	Reserved uint32 // 0x0 dt_reserved
	Checksum uint32 // 0x4 dt_checksum
}

// Marshal writes t to b[:DxTailSize].
func (t DxTail) Marshal(b []byte) { encode(b, le, t) }

// Unmarshal reads t from b[:DxTailSize].
func (t *DxTail) Unmarshal(b []byte) { decode(b, le, t) }

// XattrHeader is struct ext4_xattr_header (attributes.rst), the first
// XattrHeaderSize bytes of an extended attribute block; the entries
// follow, their values count from the block's start.
type XattrHeader struct {
	Magic    uint32    // 0x0 h_magic: XattrMagic
	Refcount uint32    // 0x4 h_refcount
	Blocks   uint32    // 0x8 h_blocks: 1
	Hash     uint32    // 0xC h_hash
	Checksum uint32    // 0x10 h_checksum
	Reserved [3]uint32 // 0x14 h_reserved
}

// Marshal writes h to b[:XattrHeaderSize].
func (h XattrHeader) Marshal(b []byte) { encode(b, le, h) }

// Unmarshal reads h from b[:XattrHeaderSize].
func (h *XattrHeader) Unmarshal(b []byte) { decode(b, le, h) }

// XattrEntry is struct ext4_xattr_entry (attributes.rst) up to the name,
// which follows at XattrEntryHeaderSize, NameLen bytes. In an inode the
// entries follow a 4-byte XattrMagic (struct ext4_xattr_ibody_header) and
// their values count from the first entry. A list ends with four zero
// bytes (XattrListEnd).
type XattrEntry struct {
	NameLen   uint8  // 0x0 e_name_len
	NameIndex uint8  // 0x1 e_name_index: the prefix (internal/ext4xattr)
	ValueOffs uint16 // 0x2 e_value_offs
	ValueInum uint32 // 0x4 e_value_inum (ea_inode)
	ValueSize uint32 // 0x8 e_value_size
	Hash      uint32 // 0xC e_hash
}

// Marshal writes e to b[:XattrEntryHeaderSize].
func (e XattrEntry) Marshal(b []byte) {
	b[0x0] = e.NameLen
	b[0x1] = e.NameIndex
	le.PutUint16(b[0x2:], e.ValueOffs)
	le.PutUint32(b[0x4:], e.ValueInum)
	le.PutUint32(b[0x8:], e.ValueSize)
	le.PutUint32(b[0xC:], e.Hash)
}

// Unmarshal reads e from b[:XattrEntryHeaderSize].
func (e *XattrEntry) Unmarshal(b []byte) {
	*e = XattrEntry{NameLen: b[0x0], NameIndex: b[0x1], ValueOffs: le.Uint16(b[0x2:]),
		ValueInum: le.Uint32(b[0x4:]), ValueSize: le.Uint32(b[0x8:]), Hash: le.Uint32(b[0xC:])}
}

// XattrListEnd reports whether an entry list ends at b (IS_LAST_ENTRY).
func XattrListEnd(b []byte) bool { return le.Uint32(b) == 0 }

// XattrEntrySize is EXT4_XATTR_LEN: an entry with an n-byte name, padded.
func XattrEntrySize(n int) int { return (XattrEntryHeaderSize + n + 3) &^ 3 }

// XattrValueSize is EXT4_XATTR_SIZE: a value of n bytes, padded.
func XattrValueSize(n int) int { return (n + 3) &^ 3 }

// JournalHeader is journal_header_t (journal.rst), big-endian, the start
// of every jbd2 metadata block.
type JournalHeader struct {
	Magic     uint32 // 0x0 h_magic: JournalMagic
	BlockType uint32 // 0x4 h_blocktype
	Sequence  uint32 // 0x8 h_sequence
}

// JournalSuperBlock is journal_superblock_t (journal.rst), big-endian, the
// journal's first block.
type JournalSuperBlock struct {
	Header          JournalHeader // 0x0 s_header
	BlockSize       uint32        // 0xC s_blocksize
	MaxLen          uint32        // 0x10 s_maxlen
	First           uint32        // 0x14 s_first: the log's first block
	Sequence        uint32        // 0x18 s_sequence
	Start           uint32        // 0x1C s_start: 0 when the journal is clean
	Errno           uint32        // 0x20 s_errno
	FeatureCompat   uint32        // 0x24 s_feature_compat
	FeatureIncompat uint32        // 0x28 s_feature_incompat
	FeatureRoCompat uint32        // 0x2C s_feature_ro_compat
	UUID            [16]byte      // 0x30 s_uuid
	NrUsers         uint32        // 0x40 s_nr_users
	Dynsuper        uint32        // 0x44 s_dynsuper
	MaxTransaction  uint32        // 0x48 s_max_transaction
	MaxTransData    uint32        // 0x4C s_max_trans_data
	ChecksumType    uint8         // 0x50 s_checksum_type
	Padding2        [3]uint8      // 0x51 s_padding2
	NumFcBlocks     uint32        // 0x54 s_num_fc_blks
	Head            uint32        // 0x58 s_head
	Padding         [40]uint32    // 0x5C s_padding
	Checksum        uint32        // 0xFC s_checksum
	Users           [16 * 48]byte // 0x100 s_users
}

// Marshal writes j to b[:1024].
func (j JournalSuperBlock) Marshal(b []byte) { encode(b, binary.BigEndian, j) }

// Unmarshal reads j from b[:1024].
func (j *JournalSuperBlock) Unmarshal(b []byte) { decode(b, binary.BigEndian, j) }
