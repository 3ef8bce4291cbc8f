package ext4img

import "encoding/binary"

// On-disk structures, named and laid out as in the kernel's
// Documentation/filesystems/ext4/ (super.rst, group_descr.rst, inodes.rst,
// ifork.rst, directory.rst, attributes.rst, journal.rst). Each marshal method
// fills a zeroed buffer; fields we never set stay out of the structs and so
// stay zero on disk.

const (
	superBlockOffset = 1024 // the primary superblock sits 1024 bytes into the device
	superBlockSize   = 1024
	superMagic       = 0xEF53
	inodeSize        = 256
	extraIsize       = 32 // i_extra_isize: covers the fields up to i_projid
	groupDescSize    = 32 // no 64bit feature
	firstIno         = 11 // s_first_ino: 1..10 are reserved
	rootIno          = 2
	journalIno       = 8
	lostFoundIno     = 11
	linkMax          = 65000 // EXT4_LINK_MAX
	maxNameLen       = 255
	maxSymlinkLen    = 4095
	fastSymlinkMax   = 59 // targets shorter than sizeof(i_block) live in the inode
	maxExtentLen     = 32768
	extentMagic      = 0xF30A
	xattrMagic       = 0xEA020000
	jbd2Magic        = 0xC03B3998
	minJournalBlocks = 1024 // JBD2_MIN_JOURNAL_BLOCKS
)

// Feature flags (super.rst).
const (
	compatHasJournal = 0x4
	compatExtAttr    = 0x8
	compatDirIndex   = 0x20

	incompatFiletype = 0x2
	incompatExtents  = 0x40
	incompatFlexBg   = 0x200

	roCompatSparseSuper = 0x1
	roCompatLargeFile   = 0x2
	roCompatHugeFile    = 0x8
	roCompatDirNlink    = 0x20
	roCompatExtraIsize  = 0x40
)

// Inode flags (inodes.rst).
const (
	inodeFlagIndex   = 0x1000 // EXT4_INDEX_FL: hashed directory
	inodeFlagExtents = 0x80000
)

// Block group flags (group_descr.rst), used with metadata_csum.
const (
	bgInodeUninit = 0x1
	bgBlockUninit = 0x2
	bgInodeZeroed = 0x4
)

// Directory entry file types (directory.rst).
const (
	ftUnknown = iota
	ftRegular
	ftDir
	ftChrdev
	ftBlkdev
	ftFifo
	ftSock
	ftSymlink
)

// superBlock is struct ext4_super_block (super.rst), the fields we set.
type superBlock struct {
	InodesCount       uint32     // 0x0 s_inodes_count
	BlocksCountLo     uint32     // 0x4 s_blocks_count_lo
	FreeBlocksCountLo uint32     // 0xC s_free_blocks_count_lo
	FreeInodesCount   uint32     // 0x10 s_free_inodes_count
	FirstDataBlock    uint32     // 0x14 s_first_data_block
	LogBlockSize      uint32     // 0x18 s_log_block_size
	LogClusterSize    uint32     // 0x1C s_log_cluster_size
	BlocksPerGroup    uint32     // 0x20 s_blocks_per_group
	ClustersPerGroup  uint32     // 0x24 s_clusters_per_group
	InodesPerGroup    uint32     // 0x28 s_inodes_per_group
	Wtime             uint32     // 0x30 s_wtime
	MaxMntCount       uint16     // 0x36 s_max_mnt_count (0xFFFF = -1: no forced check)
	State             uint16     // 0x3A s_state (1 = cleanly unmounted)
	Errors            uint16     // 0x3C s_errors (1 = continue)
	Lastcheck         uint32     // 0x40 s_lastcheck
	RevLevel          uint32     // 0x4C s_rev_level (1 = dynamic)
	FirstIno          uint32     // 0x54 s_first_ino
	InodeSize         uint16     // 0x58 s_inode_size
	BlockGroupNr      uint16     // 0x5A s_block_group_nr
	FeatureCompat     uint32     // 0x5C s_feature_compat
	FeatureIncompat   uint32     // 0x60 s_feature_incompat
	FeatureRoCompat   uint32     // 0x64 s_feature_ro_compat
	UUID              [16]byte   // 0x68 s_uuid
	VolumeName        [16]byte   // 0x78 s_volume_name
	JournalInum       uint32     // 0xE0 s_journal_inum
	HashSeed          [16]byte   // 0xEC s_hash_seed
	DefHashVersion    uint8      // 0xFC s_def_hash_version
	JnlBackupType     uint8      // 0xFD s_jnl_backup_type
	DefaultMountOpts  uint32     // 0x100 s_default_mount_opts
	MkfsTime          uint32     // 0x108 s_mkfs_time
	JnlBlocks         [17]uint32 // 0x10C s_jnl_blocks
	MinExtraIsize     uint16     // 0x15C s_min_extra_isize
	WantExtraIsize    uint16     // 0x15E s_want_extra_isize
	Flags             uint32     // 0x160 s_flags
	LogGroupsPerFlex  uint8      // 0x174 s_log_groups_per_flex
	ChecksumType      uint8      // 0x175 s_checksum_type (1 = crc32c)
	WtimeHi           uint8      // 0x274 s_wtime_hi (0x275 s_mtime_hi stays zero: never mounted)
	MkfsTimeHi        uint8      // 0x276 s_mkfs_time_hi
	LastcheckHi       uint8      // 0x277 s_lastcheck_hi
}

func (s *superBlock) marshal(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0x0:], s.InodesCount)
	le.PutUint32(b[0x4:], s.BlocksCountLo)
	le.PutUint32(b[0xC:], s.FreeBlocksCountLo)
	le.PutUint32(b[0x10:], s.FreeInodesCount)
	le.PutUint32(b[0x14:], s.FirstDataBlock)
	le.PutUint32(b[0x18:], s.LogBlockSize)
	le.PutUint32(b[0x1C:], s.LogClusterSize)
	le.PutUint32(b[0x20:], s.BlocksPerGroup)
	le.PutUint32(b[0x24:], s.ClustersPerGroup)
	le.PutUint32(b[0x28:], s.InodesPerGroup)
	le.PutUint32(b[0x30:], s.Wtime)
	le.PutUint16(b[0x36:], s.MaxMntCount)
	le.PutUint16(b[0x38:], superMagic)
	le.PutUint16(b[0x3A:], s.State)
	le.PutUint16(b[0x3C:], s.Errors)
	le.PutUint32(b[0x40:], s.Lastcheck)
	le.PutUint32(b[0x4C:], s.RevLevel)
	le.PutUint32(b[0x54:], s.FirstIno)
	le.PutUint16(b[0x58:], s.InodeSize)
	le.PutUint16(b[0x5A:], s.BlockGroupNr)
	le.PutUint32(b[0x5C:], s.FeatureCompat)
	le.PutUint32(b[0x60:], s.FeatureIncompat)
	le.PutUint32(b[0x64:], s.FeatureRoCompat)
	copy(b[0x68:0x78], s.UUID[:])
	copy(b[0x78:0x88], s.VolumeName[:])
	le.PutUint32(b[0xE0:], s.JournalInum)
	copy(b[0xEC:0xFC], s.HashSeed[:])
	b[0xFC] = s.DefHashVersion
	b[0xFD] = s.JnlBackupType
	le.PutUint32(b[0x100:], s.DefaultMountOpts)
	le.PutUint32(b[0x108:], s.MkfsTime)
	for i, v := range s.JnlBlocks {
		le.PutUint32(b[0x10C+4*i:], v)
	}
	le.PutUint16(b[0x15C:], s.MinExtraIsize)
	le.PutUint16(b[0x15E:], s.WantExtraIsize)
	le.PutUint32(b[0x160:], s.Flags)
	b[0x174] = s.LogGroupsPerFlex
	b[0x175] = s.ChecksumType
	b[0x274] = s.WtimeHi
	b[0x276] = s.MkfsTimeHi
	b[0x277] = s.LastcheckHi
}

// groupDesc is the 32-byte struct ext4_group_desc (group_descr.rst).
type groupDesc struct {
	BlockBitmapLo     uint32 // 0x0 bg_block_bitmap_lo
	InodeBitmapLo     uint32 // 0x4 bg_inode_bitmap_lo
	InodeTableLo      uint32 // 0x8 bg_inode_table_lo
	FreeBlocksCountLo uint16 // 0xC bg_free_blocks_count_lo
	FreeInodesCountLo uint16 // 0xE bg_free_inodes_count_lo
	UsedDirsCountLo   uint16 // 0x10 bg_used_dirs_count_lo
	Flags             uint16 // 0x12 bg_flags
	BlockBitmapCsumLo uint16 // 0x18 bg_block_bitmap_csum_lo
	InodeBitmapCsumLo uint16 // 0x1A bg_inode_bitmap_csum_lo
	ItableUnusedLo    uint16 // 0x1C bg_itable_unused_lo
	Checksum          uint16 // 0x1E bg_checksum
}

func (g *groupDesc) marshal(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0x0:], g.BlockBitmapLo)
	le.PutUint32(b[0x4:], g.InodeBitmapLo)
	le.PutUint32(b[0x8:], g.InodeTableLo)
	le.PutUint16(b[0xC:], g.FreeBlocksCountLo)
	le.PutUint16(b[0xE:], g.FreeInodesCountLo)
	le.PutUint16(b[0x10:], g.UsedDirsCountLo)
	le.PutUint16(b[0x12:], g.Flags)
	le.PutUint16(b[0x18:], g.BlockBitmapCsumLo)
	le.PutUint16(b[0x1A:], g.InodeBitmapCsumLo)
	le.PutUint16(b[0x1C:], g.ItableUnusedLo)
	le.PutUint16(b[0x1E:], g.Checksum)
}

// inode is struct ext4_inode (inodes.rst) with i_extra_isize = 32; the
// in-inode extended attribute area follows at offset 0xA0.
type inode struct {
	Mode        uint16   // 0x0 i_mode
	UIDLo       uint16   // 0x2 i_uid
	SizeLo      uint32   // 0x4 i_size_lo
	Atime       uint32   // 0x8 i_atime
	Ctime       uint32   // 0xC i_ctime
	Mtime       uint32   // 0x10 i_mtime
	GIDLo       uint16   // 0x18 i_gid
	LinksCount  uint16   // 0x1A i_links_count
	BlocksLo    uint32   // 0x1C i_blocks_lo (512-byte units)
	Flags       uint32   // 0x20 i_flags
	Block       [60]byte // 0x28 i_block: extent tree root, symlink target or device number
	FileACLLo   uint32   // 0x68 i_file_acl_lo
	SizeHigh    uint32   // 0x6C i_size_high
	BlocksHigh  uint16   // 0x74 l_i_blocks_high
	UIDHigh     uint16   // 0x78 l_i_uid_high
	GIDHigh     uint16   // 0x7A l_i_gid_high
	ExtraIsize  uint16   // 0x80 i_extra_isize
	CtimeExtra  uint32   // 0x84 i_ctime_extra
	MtimeExtra  uint32   // 0x88 i_mtime_extra
	AtimeExtra  uint32   // 0x8C i_atime_extra
	Crtime      uint32   // 0x90 i_crtime
	CrtimeExtra uint32   // 0x94 i_crtime_extra
	Xattrs      []byte   // 0xA0 in-inode extended attributes (ibody header and entries)
}

func (n *inode) marshal(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0x0:], n.Mode)
	le.PutUint16(b[0x2:], n.UIDLo)
	le.PutUint32(b[0x4:], n.SizeLo)
	le.PutUint32(b[0x8:], n.Atime)
	le.PutUint32(b[0xC:], n.Ctime)
	le.PutUint32(b[0x10:], n.Mtime)
	le.PutUint16(b[0x18:], n.GIDLo)
	le.PutUint16(b[0x1A:], n.LinksCount)
	le.PutUint32(b[0x1C:], n.BlocksLo)
	le.PutUint32(b[0x20:], n.Flags)
	copy(b[0x28:0x64], n.Block[:])
	le.PutUint32(b[0x68:], n.FileACLLo)
	le.PutUint32(b[0x6C:], n.SizeHigh)
	le.PutUint16(b[0x74:], n.BlocksHigh)
	le.PutUint16(b[0x78:], n.UIDHigh)
	le.PutUint16(b[0x7A:], n.GIDHigh)
	le.PutUint16(b[0x80:], n.ExtraIsize)
	le.PutUint32(b[0x84:], n.CtimeExtra)
	le.PutUint32(b[0x88:], n.MtimeExtra)
	le.PutUint32(b[0x8C:], n.AtimeExtra)
	le.PutUint32(b[0x90:], n.Crtime)
	le.PutUint32(b[0x94:], n.CrtimeExtra)
	copy(b[0xA0:inodeSize], n.Xattrs)
}

// extentHeader is struct ext4_extent_header (ifork.rst); it starts i_block
// and every extent tree block.
type extentHeader struct {
	Entries uint16 // 0x2 eh_entries (0x0 eh_magic is extentMagic)
	Max     uint16 // 0x4 eh_max
	Depth   uint16 // 0x6 eh_depth
}

func (h extentHeader) marshal(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0x0:], extentMagic)
	le.PutUint16(b[0x2:], h.Entries)
	le.PutUint16(b[0x4:], h.Max)
	le.PutUint16(b[0x6:], h.Depth)
}

// extent is struct ext4_extent, a leaf entry (ifork.rst).
type extent struct {
	Block uint32 // 0x0 ee_block: first logical block
	Len   uint16 // 0x4 ee_len
	Start uint32 // 0x8 ee_start_lo (ee_start_hi at 0x6 is zero: no 64bit)
}

func (e extent) marshal(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0x0:], e.Block)
	le.PutUint16(b[0x4:], e.Len)
	le.PutUint32(b[0x8:], e.Start)
}

// extentIdx is struct ext4_extent_idx, an interior entry (ifork.rst).
type extentIdx struct {
	Block uint32 // 0x0 ei_block: first logical block covered
	Leaf  uint32 // 0x4 ei_leaf_lo: the child tree block
}

func (e extentIdx) marshal(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0x0:], e.Block)
	le.PutUint32(b[0x4:], e.Leaf)
}

// dirEntry is struct ext4_dir_entry_2 (directory.rst).
type dirEntry struct {
	Inode    uint32 // 0x0 inode
	RecLen   uint16 // 0x4 rec_len
	FileType uint8  // 0x7 file_type (0x6 name_len is len(Name))
	Name     string // 0x8 name
}

func (d dirEntry) marshal(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0x0:], d.Inode)
	le.PutUint16(b[0x4:], d.RecLen)
	b[0x6] = uint8(len(d.Name))
	b[0x7] = d.FileType
	copy(b[0x8:], d.Name)
}

// dirEntrySize is the smallest rec_len of an entry with a name of n bytes.
func dirEntrySize(n int) int { return (8 + n + 3) &^ 3 }

// xattrEntry is struct ext4_xattr_entry (attributes.rst).
type xattrEntry struct {
	NameIndex uint8  // 0x1 e_name_index (0x0 e_name_len is len(Name))
	ValueOffs uint16 // 0x2 e_value_offs
	ValueSize uint32 // 0x8 e_value_size (0x4 e_value_inum is zero)
	Hash      uint32 // 0xC e_hash
	Name      string // 0x10 e_name, without the prefix NameIndex stands for
}

func (x *xattrEntry) marshal(b []byte) {
	le := binary.LittleEndian
	b[0x0] = uint8(len(x.Name))
	b[0x1] = x.NameIndex
	le.PutUint16(b[0x2:], x.ValueOffs)
	le.PutUint32(b[0x8:], x.ValueSize)
	le.PutUint32(b[0xC:], x.Hash)
	copy(b[0x10:], x.Name)
}

// xattrEntrySize is EXT4_XATTR_LEN: an entry with an n-byte name, padded.
func xattrEntrySize(n int) int { return (16 + n + 3) &^ 3 }

// xattrValueSize is EXT4_XATTR_SIZE: a value of n bytes, padded.
func xattrValueSize(n int) int { return (n + 3) &^ 3 }

// xattrBlockHeader is struct ext4_xattr_header (attributes.rst), the first
// 32 bytes of an extended attribute block.
type xattrBlockHeader struct {
	Refcount uint32 // 0x4 h_refcount (0x0 h_magic is xattrMagic)
	Hash     uint32 // 0xC h_hash
}

func (h xattrBlockHeader) marshal(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0x0:], xattrMagic)
	le.PutUint32(b[0x4:], h.Refcount)
	le.PutUint32(b[0x8:], 1) // h_blocks
	le.PutUint32(b[0xC:], h.Hash)
}

// journalSuperBlock is journal_superblock_t, version 2 (journal.rst). The
// journal is big-endian.
type journalSuperBlock struct {
	BlockSize uint32   // 0xC s_blocksize
	MaxLen    uint32   // 0x10 s_maxlen
	UUID      [16]byte // 0x30 s_uuid
}

func (j *journalSuperBlock) marshal(b []byte) {
	be := binary.BigEndian
	be.PutUint32(b[0x0:], jbd2Magic) // h_magic
	be.PutUint32(b[0x4:], 4)         // h_blocktype: JBD2_SUPERBLOCK_V2
	be.PutUint32(b[0xC:], j.BlockSize)
	be.PutUint32(b[0x10:], j.MaxLen)
	be.PutUint32(b[0x14:], 1) // s_first: the log starts after this block
	be.PutUint32(b[0x18:], 1) // s_sequence
	copy(b[0x30:0x40], j.UUID[:])
	be.PutUint32(b[0x40:], 1) // s_nr_users
}
