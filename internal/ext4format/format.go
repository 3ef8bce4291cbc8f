// Package ext4format is the ext4 on-disk format, one home for the writer
// (ext4img), the reader (ext4fs) and anything that patches an image in
// place: the structures of the kernel's Documentation/filesystems/ext4/
// (superblock, group descriptors, inodes, extent trees, directory entries
// and hash-tree index blocks, extended attributes, the jbd2 journal
// superblock and log blocks), each field with its offset and kernel name, encoded and
// decoded in both directions; the feature, flag and magic numbers; the
// special inode numbers; the resize inode's map of the reserved GDT
// blocks (resize.go); the metadata_csum checksums; and the encodings
// inside an inode (timestamps, device numbers, directory file types). The
// Unix mode word in i_mode is internal/unixmode's.
//
// Each structure is a Go struct whose fields follow the on-disk order with
// nothing left out (reserved space is a field too), so that encoding/binary
// lays it out exactly; Marshal and Unmarshal encode it. The structures
// read or written once per inode, extent or directory entry do so by hand
// (encoding/binary's reflection would slow the writer down by a quarter),
// and a test checks them against encoding/binary and every offset comment
// against the layout.
//
// Left out on purpose: the policy of what a writer sets and what a reader
// accepts (that is ext4img's and ext4fs's); block-mapped (ext2/ext3)
// files, inline data, meta_bg, encryption, casefolding and quota
// structures; the directory hash and layout (internal/ext4dir).
package ext4format

// Sizes and magic numbers.
const (
	SuperBlockOffset = 1024 // the primary superblock sits 1024 bytes into the device
	SuperBlockSize   = 1024
	SuperMagic       = 0xEF53 // s_magic

	GroupDescSize   = 32 // without the 64bit feature
	GroupDesc64Size = 64 // with it (s_desc_size)

	GoodOldInodeSize = 128  // EXT2_GOOD_OLD_INODE_SIZE: i_extra_isize counts from here
	InodeFixedSize   = 0xA0 // the fields of struct ext4_inode, i_extra_isize 32 included

	ExtentMagic      = 0xF30A // eh_magic
	ExtentHeaderSize = 12
	ExtentEntrySize  = 12    // an ext4_extent or ext4_extent_idx
	ExtentTailSize   = 4     // struct ext4_extent_tail, after eh_max entries in a tree block
	MaxExtentDepth   = 5     // EXT4_MAX_EXTENT_DEPTH
	InitMaxLen       = 32768 // EXT_INIT_MAX_LEN: longer ee_len means uninitialized

	DirEntryHeaderSize  = 8    // struct ext4_dir_entry_2 up to the name
	DirTailSize         = 12   // struct ext4_dir_entry_tail
	DxRootInfoOffset    = 0x18 // dx_root_info in a hash-tree root block, after "." and ".."
	DxRootEntriesOffset = 0x20 // the root's dx_countlimit and dx_entry array
	DxNodeEntriesOffset = 0x8  // an index node's, after a fake empty entry
	DxEntrySize         = 8
	DxTailSize          = 8 // struct dx_tail, after dx_countlimit.limit entries

	XattrMagic           = 0xEA020000 // h_magic, and the ibody header's
	XattrHeaderSize      = 32         // struct ext4_xattr_header
	XattrIbodyHeaderSize = 4          // struct ext4_xattr_ibody_header
	XattrEntryHeaderSize = 16         // struct ext4_xattr_entry up to the name

	JournalMagic        = 0xC03B3998 // JBD2_MAGIC_NUMBER
	JournalSuperBlockV2 = 4          // h_blocktype of a version 2 journal superblock
	MinJournalBlocks    = 1024       // JBD2_MIN_JOURNAL_BLOCKS
)

// Limits.
const (
	LinkMax        = 65000 // EXT4_LINK_MAX
	MaxNameLen     = 255   // EXT4_NAME_LEN
	FastSymlinkMax = 59    // targets shorter than i_block live in the inode
	MaxRecLen      = 65536 // a rec_len of 0 means this with 64 KiB blocks
)

// Special inode numbers (special_inodes.rst).
const (
	BadBlocksIno    = 1
	RootIno         = 2
	UsrQuotaIno     = 3
	GrpQuotaIno     = 4
	BootLoaderIno   = 5
	UndelDirIno     = 6
	ResizeIno       = 7
	JournalIno      = 8
	ExcludeIno      = 9
	ReplicaIno      = 10
	GoodOldFirstIno = 11 // s_first_ino of revision 0; lost+found's in mke2fs's images
)

// Compatible features (s_feature_compat, super.rst).
const (
	CompatDirPrealloc  = 0x1
	CompatImagicInodes = 0x2
	CompatHasJournal   = 0x4
	CompatExtAttr      = 0x8
	CompatResizeInode  = 0x10
	CompatDirIndex     = 0x20
	CompatSparseSuper2 = 0x200
	CompatFastCommit   = 0x400
	CompatStableInodes = 0x800
	CompatOrphanFile   = 0x1000
)

// Incompatible features (s_feature_incompat).
const (
	IncompatCompression = 0x1
	IncompatFiletype    = 0x2
	IncompatRecover     = 0x4
	IncompatJournalDev  = 0x8
	IncompatMetaBG      = 0x10
	IncompatExtents     = 0x40
	Incompat64bit       = 0x80
	IncompatMMP         = 0x100
	IncompatFlexBG      = 0x200
	IncompatEAInode     = 0x400
	IncompatDirData     = 0x1000
	IncompatCsumSeed    = 0x2000
	IncompatLargeDir    = 0x4000
	IncompatInlineData  = 0x8000
	IncompatEncrypt     = 0x10000
	IncompatCasefold    = 0x20000
)

// Read-only compatible features (s_feature_ro_compat).
const (
	RoCompatSparseSuper   = 0x1
	RoCompatLargeFile     = 0x2
	RoCompatBtreeDir      = 0x4
	RoCompatHugeFile      = 0x8
	RoCompatGdtCsum       = 0x10
	RoCompatDirNlink      = 0x20
	RoCompatExtraIsize    = 0x40
	RoCompatQuota         = 0x100
	RoCompatBigalloc      = 0x200
	RoCompatMetadataCsum  = 0x400
	RoCompatReadonly      = 0x1000
	RoCompatProject       = 0x2000
	RoCompatVerity        = 0x8000
	RoCompatOrphanPresent = 0x10000
)

// Superblock values.
const (
	StateCleanlyUnmounted = 1   // s_state
	ErrorsContinue        = 1   // s_errors
	DynamicRev            = 1   // s_rev_level
	HashHalfMD4           = 1   // s_def_hash_version, dx_root_info.hash_version
	JnlBackupBlocks       = 1   // s_jnl_backup_type EXT3_JNL_BACKUP_BLOCKS
	ChecksumCRC32c        = 1   // s_checksum_type
	FlagsUnsignedHash     = 0x2 // s_flags EXT2_FLAGS_UNSIGNED_HASH
	MountUserXattr        = 0x4 // s_default_mount_opts EXT4_DEFM_XATTR_USER
	MountACL              = 0x8 // EXT4_DEFM_ACL
)

// Inode flags (i_flags, inodes.rst).
const (
	InodeFlagIndex      = 0x1000     // EXT4_INDEX_FL: hashed directory
	InodeFlagHugeFile   = 0x40000    // EXT4_HUGE_FILE_FL
	InodeFlagExtents    = 0x80000    // EXT4_EXTENTS_FL
	InodeFlagEAInode    = 0x200000   // EXT4_EA_INODE_FL
	InodeFlagInlineData = 0x10000000 // EXT4_INLINE_DATA_FL
)

// Block group flags (bg_flags, group_descr.rst).
const (
	BgInodeUninit = 0x1
	BgBlockUninit = 0x2
	BgInodeZeroed = 0x4
)
