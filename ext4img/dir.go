package ext4img

import (
	"encoding/binary"
	"io/fs"
)

// lostFoundBytes is the size mke2fs gives lost+found, so that e2fsck can
// reconnect files without allocating blocks.
const lostFoundBytes = 16384

// fileType is the dirent file_type of a mode.
func fileType(m fs.FileMode) uint8 {
	switch m.Type() {
	case 0:
		return ftRegular
	case fs.ModeDir:
		return ftDir
	case fs.ModeSymlink:
		return ftSymlink
	case fs.ModeDevice | fs.ModeCharDevice:
		return ftChrdev
	case fs.ModeDevice:
		return ftBlkdev
	case fs.ModeNamedPipe:
		return ftFifo
	case fs.ModeSocket:
		return ftSock
	}
	return ftUnknown
}

// packDir lays out directory d's linear entries ("." and "..", then the
// children in name order) in blocks of bs bytes. It calls emit for each
// entry with the block it goes into and its offset there, and returns the
// block count. A block's last entry reaches to the block's end.
func packDir(d *node, parentIno uint32, bs int, emit func(block, off int, e dirEntry)) int {
	block, off := 0, 0
	var last dirEntry
	lastOff := -1
	put := func(e dirEntry) {
		size := dirEntrySize(len(e.Name))
		if lastOff >= 0 {
			lastBlock := block
			if off+size > bs {
				last.RecLen = uint16(bs - lastOff)
				block, off = block+1, 0
			} else {
				last.RecLen = uint16(off - lastOff)
			}
			if emit != nil {
				emit(lastBlock, lastOff, last)
			}
		}
		last, lastOff = e, off
		off += size
	}
	put(dirEntry{Inode: d.ino, FileType: ftDir, Name: "."})
	put(dirEntry{Inode: parentIno, FileType: ftDir, Name: ".."})
	for _, c := range d.children {
		put(dirEntry{Inode: c.n.ino, FileType: fileType(c.n.mode), Name: c.name})
	}
	if emit != nil {
		last.RecLen = uint16(bs - lastOff)
		emit(block, lastOff, last)
	}
	n := block + 1
	if d.ino == lostFoundIno {
		n = max(n, lostFoundBytes/bs)
	}
	return n
}

func dirBlockCount(d *node, bs int) uint32 {
	return uint32(packDir(d, 0, bs, nil))
}

// encodeDir returns all blocks of directory d. Directories are small next
// to file data (a 50,000-entry directory is about 1.5 MiB).
func encodeDir(d *node, parentIno uint32, bs int, nblocks uint32) [][]byte {
	buf := make([]byte, int(nblocks)*bs)
	packDir(d, parentIno, bs, func(block, off int, e dirEntry) {
		e.marshal(buf[block*bs+off:])
	})
	blocks := make([][]byte, nblocks)
	for i := range blocks {
		blocks[i] = buf[i*bs : (i+1)*bs]
		if binary.LittleEndian.Uint16(blocks[i][4:]) == 0 {
			// An empty block (pre-sized lost+found): one unused entry.
			binary.LittleEndian.PutUint16(blocks[i][4:], uint16(bs))
		}
	}
	return blocks
}
