package ext4img

import (
	"fmt"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4dir"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// Directories are laid out by internal/ext4dir, shared with the patcher,
// which rewrites a directory as this writer would have written it.

// lostFoundBytes is the size mke2fs gives lost+found, so that e2fsck can
// reconnect files without allocating blocks.
const lostFoundBytes = 16384

// dirOf is directory d as ext4dir lays it out: its children in name
// order, with their inode numbers once Layout has assigned them.
func dirOf(d *node, g ext4dir.Geometry) *ext4dir.Dir {
	cs := d.children()
	out := &ext4dir.Dir{Ino: d.ino, Parent: d.dir().parent.ino, Children: make([]ext4dir.Entry, len(cs))}
	for i, c := range cs {
		out.Children[i] = ext4dir.Entry{Inode: c.n.ino, FileType: ext4format.FileType(c.n.mode), Name: c.name}
	}
	if d.ino == lostFoundIno {
		out.MinBlocks = lostFoundBytes / g.BlockSize
	}
	return out
}

// planDir decides between a linear and an indexed directory and returns
// the block count.
func planDir(d *node, g ext4dir.Geometry, seed [16]byte) (uint32, *ext4dir.Htree, error) {
	n, h, err := ext4dir.Plan(dirOf(d, g), g, seed, false)
	if err != nil {
		return 0, nil, fmt.Errorf("directory %q: %w", d.path(nil), err)
	}
	return uint32(n), h, nil
}

// encodeDir returns all blocks of directory d; with metadata_csum, seed is
// the inode's checksum seed.
func encodeDir(d *node, h *ext4dir.Htree, g ext4dir.Geometry, nblocks uint32, seed uint32) [][]byte {
	return ext4dir.Encode(dirOf(d, g), h, g, int(nblocks), seed)
}
