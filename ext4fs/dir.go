package ext4fs

import (
	"fmt"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// dirent is one name in a directory.
type dirent struct {
	name string
	ino  uint32
	typ  uint8 // file_type: 1 file, 2 dir, 3 chr, 4 blk, 5 fifo, 6 sock, 7 symlink
}

// readDir returns every entry of directory in, "." and ".." included, in
// on-disk order. A hashed directory is read the same way: its root and
// index blocks present themselves as entries of inode 0 spanning the
// block (the root after "." and ".."), so only leaf entries come out.
func (f *FS) readDir(in *Inode) ([]dirent, error) {
	if !in.Mode.IsDir() {
		return nil, fmt.Errorf("inode %d is not a directory", in.Ino)
	}
	if in.Size%f.bs != 0 || in.Size == 0 || uint64(in.Size/f.bs) > f.blocks {
		return nil, corrupt("directory inode %d: size %d is not a positive multiple of the %d-byte block within the image", in.Ino, in.Size, f.bs)
	}
	r, err := f.newFileReader(in)
	if err != nil {
		return nil, err
	}
	// Every block of a directory must be mapped: count them first, so a
	// huge i_size with few extents fails before reading anything.
	var mapped uint64
	for _, x := range r.ext {
		mapped += uint64(x.length)
	}
	nblocks := uint64(in.Size / f.bs)
	if mapped < nblocks {
		return nil, corrupt("directory inode %d: %d of its %d blocks are not mapped", in.Ino, nblocks-mapped, nblocks)
	}
	indexed := in.raw.Flags&ext4format.InodeFlagIndex != 0
	seed := f.inodeSeed(in.Ino, in.raw.Generation)
	b := make([]byte, f.bs)
	var out []dirent
	for blk := range nblocks {
		if _, err := r.ReadAt(b, int64(blk)*f.bs); err != nil {
			return nil, fmt.Errorf("directory inode %d: block %d: %w", in.Ino, blk, err)
		}
		end := len(b)
		if f.csum && !(indexed && blk == 0) && !isDxNode(b) {
			var t ext4format.DirTail
			t.Unmarshal(b[len(b)-ext4format.DirTailSize:])
			if t.ReservedZero1 != 0 || t.RecLen != ext4format.DirTailSize || t.ReservedZero2 != 0 || t.FileType != ext4format.FileTypeDirCsum {
				return nil, corrupt("directory inode %d: block %d has no checksum tail", in.Ino, blk)
			}
			if got, want := ext4format.CRC32c(seed, b[:len(b)-ext4format.DirTailSize]), t.Checksum; got != want {
				return nil, corrupt("directory inode %d: block %d: checksum %#08x, computed %#08x", in.Ino, blk, want, got)
			}
			end -= ext4format.DirTailSize
		}
		if out, err = f.parseDirBlock(b[:end], in.Ino, blk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// isDxNode reports whether b is an htree index node: one fake entry of
// inode 0 spanning the whole block.
func isDxNode(b []byte) bool {
	var e ext4format.DirEntry
	e.Unmarshal(b)
	return e.Inode == 0 && int(e.RecLen) == len(b) && e.NameLen == 0
}

// parseDirBlock appends the entries of one directory block.
func (f *FS) parseDirBlock(b []byte, dirIno uint32, blk uint64, out []dirent) ([]dirent, error) {
	for off := 0; off < len(b); {
		if len(b)-off < ext4format.DirEntryHeaderSize {
			return nil, corrupt("directory inode %d: block %d: entry at %d overruns the block", dirIno, blk, off)
		}
		var e ext4format.DirEntry
		e.Unmarshal(b[off:])
		ino, recLen, nameLen, typ := e.Inode, int(e.RecLen), int(e.NameLen), e.FileType
		if f.bs == ext4format.MaxRecLen && recLen == 0 {
			recLen = ext4format.MaxRecLen // EXT4_MAX_REC_LEN encoding
		}
		switch {
		case recLen < ext4format.DirEntryHeaderSize || recLen%4 != 0 || off+recLen > len(b):
			return nil, corrupt("directory inode %d: block %d: entry at %d has record length %d", dirIno, blk, off, recLen)
		case ext4format.DirEntryHeaderSize+nameLen > recLen:
			return nil, corrupt("directory inode %d: block %d: entry at %d: name of %d bytes in a %d-byte record", dirIno, blk, off, nameLen, recLen)
		case ino > f.sb.InodesCount:
			return nil, corrupt("directory inode %d: block %d: entry at %d names inode %d of %d", dirIno, blk, off, ino, f.sb.InodesCount)
		}
		if ino != 0 {
			if nameLen == 0 {
				return nil, corrupt("directory inode %d: block %d: entry at %d has an empty name", dirIno, blk, off)
			}
			out = append(out, dirent{name: string(b[off+ext4format.DirEntryHeaderSize : off+ext4format.DirEntryHeaderSize+nameLen]), ino: ino, typ: typ})
		}
		off += recLen
	}
	return out, nil
}
