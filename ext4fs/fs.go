// Package ext4fs reads ext4 filesystem images without mounting them: the
// tree, every inode's metadata (type, permissions, owner, mtime, size, link
// count, symlink target, device numbers, extended attributes) and regular
// files' contents. FS implements io/fs.FS, fs.StatFS, fs.ReadDirFS and
// fs.ReadLinkFS, so fs.WalkDir and testing/fstest work on an image.
//
// It reads what ext4img writes and what mke2fs makes by default: blocks of
// 1 KiB to 64 KiB (tested with 1 and 4 KiB), extent trees of any depth, linear and hashed (htree)
// directories (a hashed directory's leaves are ordinary entry blocks, so
// it is read block by block like a linear one and its index is not
// consulted), fast and slow symlinks, device numbers in both encodings,
// xattrs in the inode and in a block, 32- and 64-byte group descriptors,
// and metadata_csum, whose checksums on the superblock, group descriptors,
// inodes, extent blocks, directory leaf blocks and xattr blocks are
// verified.
//
// Every structure is checked before it is used, so a corrupt or hostile
// image gives an error naming the inode or block, never a panic, an
// endless loop or an unbounded allocation: extent trees are limited to
// depth 5 and to as many extents as the image has blocks, block numbers
// must lie inside the image, symlinks are followed at most MaxSymlinkHops
// times, and a directory is read one block at a time and may not be
// larger than the image.
//
// Left out on purpose: writing; the journal (an image that needs recovery
// is read as it is on disk); block-mapped (ext2/ext3) files; inline_data,
// meta_bg, ea_inode, dirdata and encryption (Open refuses them); hash
// lookups in htree directories (a lookup scans the directory, fine for
// looking at images, and the last few directories' names are cached);
// case-insensitive lookups in casefolded directories (names match
// exactly);
// checksums of bitmaps and htree index blocks (neither is read); access,
// change and creation times.
package ext4fs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// MaxSymlinkHops is how many symbolic links one lookup follows before it
// fails, as the kernel's MAXSYMLINKS.
const MaxSymlinkHops = 40

// ErrCorrupt is wrapped by every error about an inconsistent structure in
// the image (as opposed to a missing name or a failing reader).
var ErrCorrupt = errors.New("corrupt filesystem")

// FS is an ext4 image opened for reading. It is safe for concurrent use
// when the underlying io.ReaderAt is.
type FS struct {
	r          io.ReaderAt
	sb         ext4format.SuperBlock
	bs         int64
	blocks     uint64 // s_blocks_count
	groups     uint32
	inodeSize  int
	descs      []ext4format.GroupDesc
	csum       bool
	csumSeed   uint32
	maxExtents int // extents one inode may have: the image's block count

	mu       sync.Mutex
	dirCache []cachedDir // most recently used first, at most dirCacheSize
}

// corrupt returns an error wrapping ErrCorrupt.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// Open reads the superblock and group descriptors of the ext4 image in r,
// which holds size bytes.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	if size < ext4format.SuperBlockOffset+ext4format.SuperBlockSize {
		return nil, fmt.Errorf("reading superblock: %d bytes are too few for an ext4 image", size)
	}
	b := make([]byte, ext4format.SuperBlockSize)
	if _, err := r.ReadAt(b, ext4format.SuperBlockOffset); err != nil {
		return nil, fmt.Errorf("reading superblock: %w", err)
	}
	var sb ext4format.SuperBlock
	sb.Unmarshal(b)
	f := &FS{r: r, sb: sb}
	if sb.Magic != ext4format.SuperMagic {
		return nil, fmt.Errorf("reading superblock: magic %#04x is not ext2/3/4's %#04x", sb.Magic, ext4format.SuperMagic)
	}
	if sb.FeatureRoCompat&ext4format.RoCompatMetadataCsum != 0 {
		f.csum = true
		if sb.ChecksumType != ext4format.ChecksumCRC32c {
			return nil, corrupt("superblock: checksum type %d is not crc32c (1)", sb.ChecksumType)
		}
		if got := ext4format.SuperBlockChecksum(b); got != sb.Checksum {
			return nil, corrupt("superblock: checksum %#08x, computed %#08x", sb.Checksum, got)
		}
		f.csumSeed = ext4format.UUIDSeed(sb.UUID)
		if sb.FeatureIncompat&ext4format.IncompatCsumSeed != 0 {
			f.csumSeed = sb.ChecksumSeed
		}
	}
	if unknown := sb.FeatureIncompat &^ incompatKnown; unknown != 0 {
		return nil, fmt.Errorf("reading superblock: unsupported incompatible features %#x", unknown)
	}
	if sb.FeatureIncompat&ext4format.IncompatExtents == 0 {
		return nil, fmt.Errorf("reading superblock: no extents feature (block-mapped ext2/ext3 files are not supported)")
	}
	geo, err := ext4format.CheckGeometry(&sb, size)
	if err != nil {
		return nil, corrupt("superblock: %v", err)
	}
	f.bs, f.blocks, f.groups, f.inodeSize = geo.BlockSize, geo.Blocks, geo.Groups, geo.InodeSize
	descSize := geo.DescSize
	// CheckGeometry bounds the descriptor table by group 0 and the image.
	gdt := make([]byte, int64(f.groups)*int64(descSize))
	if _, err := r.ReadAt(gdt, (int64(sb.FirstDataBlock)+1)*f.bs); err != nil {
		return nil, fmt.Errorf("reading group descriptors: %w", err)
	}
	f.descs = make([]ext4format.GroupDesc, f.groups)
	for g := range f.groups {
		d := gdt[int64(g)*int64(descSize):][:descSize]
		f.descs[g].Unmarshal(d)
		if f.csum {
			if got := ext4format.GroupDescChecksum(f.csumSeed, g, d); got != f.descs[g].Checksum {
				return nil, corrupt("group descriptor %d: checksum %#04x, computed %#04x", g, f.descs[g].Checksum, got)
			}
		}
		if sb.FeatureIncompat&ext4format.Incompat64bit == 0 {
			f.descs[g].InodeTableHi = 0
		}
		table := uint64(f.descs[g].InodeTableLo) | uint64(f.descs[g].InodeTableHi)<<32
		tableBlocks := (uint64(sb.InodesPerGroup)*uint64(f.inodeSize) + uint64(f.bs) - 1) / uint64(f.bs)
		if table == 0 || table+tableBlocks > f.blocks {
			return nil, corrupt("group descriptor %d: inode table at block %d (%d blocks) outside the %d-block image", g, table, tableBlocks, f.blocks)
		}
	}
	f.maxExtents = int(min(f.blocks, 1<<31))
	return f, nil
}

// BlockSize is the filesystem's block size in bytes.
func (f *FS) BlockSize() int { return int(f.bs) }

// Info is what the superblock says of the filesystem as a whole.
type Info struct {
	UUID       [16]byte
	BlockSize  int
	Blocks     int64 // s_blocks_count
	FreeBlocks int64 // s_free_blocks_count, as last written (the kernel keeps the live count in memory)
	Inodes     int64
	FreeInodes int64
	Created    time.Time // s_mkfs_time: SOURCE_DATE_EPOCH for our images
}

// Info returns the superblock's summary of the filesystem.
func (f *FS) Info() Info {
	free := uint64(f.sb.FreeBlocksCountLo)
	if f.sb.FeatureIncompat&ext4format.Incompat64bit != 0 {
		free |= uint64(f.sb.FreeBlocksCountHi) << 32
	}
	return Info{
		UUID:       f.sb.UUID,
		BlockSize:  int(f.bs),
		Blocks:     int64(f.blocks),
		FreeBlocks: int64(free),
		Inodes:     int64(f.sb.InodesCount),
		FreeInodes: int64(f.sb.FreeInodesCount),
		Created:    time.Unix(int64(f.sb.MkfsTime)|int64(f.sb.MkfsTimeHi)<<32, 0).UTC(),
	}
}

// readBlock reads block nr, which must lie inside the image.
func (f *FS) readBlock(nr uint64, b []byte) error {
	if nr == 0 || nr >= f.blocks {
		return corrupt("block %d is outside the %d-block image", nr, f.blocks)
	}
	if _, err := f.r.ReadAt(b[:f.bs], int64(nr)*f.bs); err != nil {
		return fmt.Errorf("reading block %d: %w", nr, err)
	}
	return nil
}

// Inode is what an inode says about a file, directory or other entry; it
// is the Sys() of every fs.FileInfo the FS returns.
type Inode struct {
	Ino uint32
	// Mode is the type (as in io/fs), permissions and setuid, setgid and
	// sticky bits.
	Mode     fs.FileMode
	UID, GID uint32
	Nlink    uint32
	ModTime  time.Time
	// Size is i_size: a regular file's length, a symlink's target length,
	// a directory's block total.
	Size int64
	// Linkname is a symbolic link's target.
	Linkname string
	// Devmajor and Devminor are a device node's numbers.
	Devmajor, Devminor uint32
	// Xattrs are the extended attributes by full name; POSIX ACLs in the
	// xattr API's format (as getfattr shows them), not ext4's on-disk one.
	Xattrs map[string][]byte

	raw rawInode
}

// Inode reads inode ino.
func (f *FS) Inode(ino uint32) (*Inode, error) {
	raw, b, err := f.readRawInode(ino)
	if err != nil {
		return nil, err
	}
	in := &Inode{
		Ino:     ino,
		UID:     uint32(raw.UIDLo) | uint32(raw.UIDHi)<<16,
		GID:     uint32(raw.GIDLo) | uint32(raw.GIDHi)<<16,
		Nlink:   uint32(raw.LinksCount),
		ModTime: raw.mtime(),
		Size:    int64(uint64(raw.SizeLo) | uint64(raw.SizeHi)<<32),
		raw:     raw,
	}
	if in.Size < 0 {
		return nil, corrupt("inode %d: size %d", ino, uint64(in.Size))
	}
	var ok bool
	if in.Mode, ok = unixmode.Decode(uint32(raw.Mode)); !ok {
		return nil, corrupt("inode %d: unknown file type in mode %#o", ino, raw.Mode)
	}
	if in.Mode&fs.ModeDevice != 0 {
		in.Devmajor, in.Devminor = raw.device()
	}
	if raw.Flags&(ext4format.InodeFlagInlineData|ext4format.InodeFlagEAInode) != 0 {
		return nil, fmt.Errorf("inode %d: inline data and xattr inodes are not supported (flags %#x)", ino, raw.Flags)
	}
	if in.Mode&fs.ModeSymlink != 0 {
		if in.Linkname, err = f.readSymlink(in); err != nil {
			return nil, err
		}
	}
	if in.Xattrs, err = f.readXattrs(in, b); err != nil {
		return nil, err
	}
	return in, nil
}

// readRawInode reads and checks inode ino; b is the inode's bytes.
func (f *FS) readRawInode(ino uint32) (rawInode, []byte, error) {
	if ino == 0 || ino > f.sb.InodesCount {
		return rawInode{}, nil, corrupt("inode %d does not exist (%d inodes)", ino, f.sb.InodesCount)
	}
	g, idx := (ino-1)/f.sb.InodesPerGroup, (ino-1)%f.sb.InodesPerGroup
	d := f.descs[g]
	off := int64(uint64(d.InodeTableLo)|uint64(d.InodeTableHi)<<32)*f.bs + int64(idx)*int64(f.inodeSize)
	b := make([]byte, f.inodeSize)
	if _, err := f.r.ReadAt(b, off); err != nil {
		return rawInode{}, nil, fmt.Errorf("reading inode %d: %w", ino, err)
	}
	raw := parseInode(b)
	if raw.large() && ext4format.GoodOldInodeSize+int(raw.ExtraIsize) > f.inodeSize {
		return rawInode{}, nil, corrupt("inode %d: extra size %d exceeds the %d-byte inode", ino, raw.ExtraIsize, f.inodeSize)
	}
	if f.csum {
		if want, got := raw.Checksum(len(b)), ext4format.InodeChecksum(f.inodeSeed(ino, raw.Generation), b); want != got {
			return rawInode{}, nil, corrupt("inode %d: checksum %#08x, computed %#08x", ino, want, got)
		}
	}
	if raw.Mode == 0 || raw.LinksCount == 0 {
		return rawInode{}, nil, corrupt("inode %d is not in use", ino)
	}
	return raw, b, nil
}

// fileACL is the inode's xattr block, or 0.
func (in *Inode) fileACL() uint64 {
	return uint64(in.raw.FileACLLo) | uint64(in.raw.FileACLHi)<<32
}
