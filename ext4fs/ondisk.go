package ext4fs

import (
	"fmt"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// What the reader takes from the on-disk format (internal/ext4format), and
// what it accepts of it.

// incompatKnown is what the reader can read: everything else (meta_bg
// moves the descriptors, inline_data and dirdata change inodes and
// directory entries, ea_inode puts xattr values in inodes, encryption
// scrambles names and data) is refused in Open.
const incompatKnown = ext4format.IncompatFiletype | ext4format.IncompatRecover | ext4format.IncompatExtents |
	ext4format.Incompat64bit | ext4format.IncompatMMP | ext4format.IncompatFlexBG | ext4format.IncompatCsumSeed |
	ext4format.IncompatLargeDir | ext4format.IncompatCasefold

// rawInode is an inode as stored, size bytes long.
type rawInode struct {
	ext4format.Inode
	size int
}

func parseInode(b []byte) rawInode {
	in := rawInode{size: len(b)}
	in.Unmarshal(b)
	return in
}

// large reports whether the inode is larger than 128 bytes, so that
// i_extra_isize counts.
func (in *rawInode) large() bool { return in.size > ext4format.GoodOldInodeSize }

// mtime decodes i_mtime and i_mtime_extra.
func (in *rawInode) mtime() time.Time { return ext4format.DecodeTime(in.Mtime, in.MtimeExtra) }

// device decodes the device number in i_block.
func (in *rawInode) device() (major, minor uint32) { return ext4format.DecodeDevice(&in.Block) }

// inodeSeed is the seed of an inode's own checksums (inode, extent blocks,
// directory blocks).
func (f *FS) inodeSeed(ino, generation uint32) uint32 {
	return ext4format.InodeSeed(f.csumSeed, ino, generation)
}

// parseExtentHeader reads and checks the header of an extent tree node b.
func parseExtentHeader(b []byte) (ext4format.ExtentHeader, error) {
	var h ext4format.ExtentHeader
	h.Unmarshal(b)
	capacity := (len(b) - ext4format.ExtentHeaderSize) / ext4format.ExtentEntrySize
	switch {
	case h.Magic != ext4format.ExtentMagic:
		return h, fmt.Errorf("bad extent header magic %#04x", h.Magic)
	case int(h.Max) > capacity:
		return h, fmt.Errorf("extent node claims room for %d entries, has %d", h.Max, capacity)
	case h.Entries > h.Max:
		return h, fmt.Errorf("extent node has %d entries, room for %d", h.Entries, h.Max)
	case h.Depth > ext4format.MaxExtentDepth:
		return h, fmt.Errorf("extent tree depth %d exceeds %d", h.Depth, ext4format.MaxExtentDepth)
	}
	return h, nil
}
