package ext4fs

import (
	"fmt"
	"io/fs"
)

// Directory entries (directory.rst): inode (0x0), rec_len (0x4),
// name_len (0x6), file_type (0x7), name (0x8). With metadata_csum every
// leaf block ends in a 12-byte fake entry (inode 0, rec_len 12, type
// 0xDE) holding the block's checksum.
const (
	direntHeader  = 8
	dirTailSize   = 12
	dirTailType   = 0xDE
	maxNameLength = 255
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
	indexed := in.raw.Flags&flagIndex != 0
	seed := f.inodeSeed(in.Ino, in.raw.Generation)
	b := make([]byte, f.bs)
	var out []dirent
	for blk := range nblocks {
		if _, err := r.ReadAt(b, int64(blk)*f.bs); err != nil {
			return nil, fmt.Errorf("directory inode %d: block %d: %w", in.Ino, blk, err)
		}
		end := len(b)
		if f.csum && !(indexed && blk == 0) && !isDxNode(b) {
			t := b[len(b)-dirTailSize:]
			if le.Uint32(t) != 0 || le.Uint16(t[4:]) != dirTailSize || t[6] != 0 || t[7] != dirTailType {
				return nil, corrupt("directory inode %d: block %d has no checksum tail", in.Ino, blk)
			}
			if got, want := crc32c(seed, b[:len(b)-dirTailSize]), le.Uint32(t[8:]); got != want {
				return nil, corrupt("directory inode %d: block %d: checksum %#08x, computed %#08x", in.Ino, blk, want, got)
			}
			end -= dirTailSize
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
	return le.Uint32(b) == 0 && int(le.Uint16(b[4:])) == len(b) && b[6] == 0
}

// parseDirBlock appends the entries of one directory block.
func (f *FS) parseDirBlock(b []byte, dirIno uint32, blk uint64, out []dirent) ([]dirent, error) {
	for off := 0; off < len(b); {
		if len(b)-off < direntHeader {
			return nil, corrupt("directory inode %d: block %d: entry at %d overruns the block", dirIno, blk, off)
		}
		ino := le.Uint32(b[off:])
		recLen := int(le.Uint16(b[off+4:]))
		nameLen := int(b[off+6])
		typ := b[off+7]
		if f.bs == 65536 && recLen == 0 {
			recLen = 65536 // EXT4_MAX_REC_LEN encoding
		}
		switch {
		case recLen < direntHeader || recLen%4 != 0 || off+recLen > len(b):
			return nil, corrupt("directory inode %d: block %d: entry at %d has record length %d", dirIno, blk, off, recLen)
		case direntHeader+nameLen > recLen:
			return nil, corrupt("directory inode %d: block %d: entry at %d: name of %d bytes in a %d-byte record", dirIno, blk, off, nameLen, recLen)
		case ino > f.sb.InodesCount:
			return nil, corrupt("directory inode %d: block %d: entry at %d names inode %d of %d", dirIno, blk, off, ino, f.sb.InodesCount)
		}
		if ino != 0 {
			if nameLen == 0 {
				return nil, corrupt("directory inode %d: block %d: entry at %d has an empty name", dirIno, blk, off)
			}
			out = append(out, dirent{name: string(b[off+direntHeader : off+direntHeader+nameLen]), ino: ino, typ: typ})
		}
		off += recLen
	}
	return out, nil
}

// direntMode is the type bits fs.DirEntry.Type reports for a file_type.
func direntMode(typ uint8) fs.FileMode {
	switch typ {
	case 2:
		return fs.ModeDir
	case 3:
		return fs.ModeDevice | fs.ModeCharDevice
	case 4:
		return fs.ModeDevice
	case 5:
		return fs.ModeNamedPipe
	case 6:
		return fs.ModeSocket
	case 7:
		return fs.ModeSymlink
	}
	return 0
}
