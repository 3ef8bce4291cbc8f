package ext4fs

import (
	"encoding/binary"
	"fmt"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4xattr"
)

// readXattrs returns in's attributes from the inode body b and its xattr
// block, or nil when it has none.
func (f *FS) readXattrs(in *Inode, b []byte) (map[string][]byte, error) {
	var m map[string][]byte
	if in.raw.large() {
		// The ibody header, the magic, follows i_extra_isize; the entries'
		// values count from the first entry.
		start := ext4format.GoodOldInodeSize + int(in.raw.ExtraIsize)
		if start+ext4format.XattrIbodyHeaderSize <= len(b) && binary.LittleEndian.Uint32(b[start:]) == ext4format.XattrMagic {
			m = map[string][]byte{}
			area := b[start+ext4format.XattrIbodyHeaderSize:]
			if err := parseXattrs(area, area, m); err != nil {
				return nil, corrupt("inode %d: in-inode xattrs: %v", in.Ino, err)
			}
		}
	}
	if blk := in.fileACL(); blk != 0 {
		buf := make([]byte, f.bs)
		if err := f.readBlock(blk, buf); err != nil {
			return nil, fmt.Errorf("inode %d: xattr block: %w", in.Ino, err)
		}
		var h ext4format.XattrHeader
		if h.Unmarshal(buf); h.Magic != ext4format.XattrMagic || h.Blocks != 1 {
			return nil, corrupt("inode %d: xattr block %d: magic %#x, %d blocks", in.Ino, blk, h.Magic, h.Blocks)
		}
		if f.csum {
			if got, want := ext4format.XattrBlockChecksum(f.csumSeed, blk, buf), h.Checksum; got != want {
				return nil, corrupt("inode %d: xattr block %d: checksum %#08x, computed %#08x", in.Ino, blk, want, got)
			}
		}
		if m == nil {
			m = map[string][]byte{}
		}
		if err := parseXattrs(buf[ext4format.XattrHeaderSize:], buf, m); err != nil {
			return nil, corrupt("inode %d: xattr block %d: %v", in.Ino, blk, err)
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// parseXattrs adds the entries listed in area, whose values lie in base
// (value offsets count from base's start), to m.
func parseXattrs(area, base []byte, m map[string][]byte) error {
	for off := 0; ; {
		if len(area)-off < 4 {
			return fmt.Errorf("entry list at %d is not terminated", off)
		}
		if ext4format.XattrListEnd(area[off:]) {
			return nil
		}
		if len(area)-off < ext4format.XattrEntryHeaderSize {
			return fmt.Errorf("entry at %d overruns the area", off)
		}
		var e ext4format.XattrEntry
		e.Unmarshal(area[off:])
		nameLen, index := int(e.NameLen), e.NameIndex
		valOff, inum, valSize := int(e.ValueOffs), e.ValueInum, int64(e.ValueSize)
		nameAt := off + ext4format.XattrEntryHeaderSize
		if nameAt+nameLen > len(area) {
			return fmt.Errorf("name of entry at %d overruns the area", off)
		}
		name, ok := ext4xattr.JoinName(index, string(area[nameAt:nameAt+nameLen]))
		if !ok {
			return fmt.Errorf("entry at %d has unknown name index %d", off, index)
		}
		if inum != 0 {
			return fmt.Errorf("%q: value in inode %d (ea_inode is not supported)", name, inum)
		}
		if int64(valOff)+valSize > int64(len(base)) {
			return fmt.Errorf("%q: value of %d bytes at %d overruns the area", name, valSize, valOff)
		}
		if _, dup := m[name]; dup {
			return fmt.Errorf("%q appears twice", name)
		}
		v := append([]byte(nil), base[valOff:valOff+int(valSize)]...)
		if ext4xattr.IsACL(index) {
			var err error
			if v, err = ext4xattr.ACLFromDisk(v); err != nil {
				return fmt.Errorf("%q: %v", name, err)
			}
		}
		m[name] = v
		off += ext4format.XattrEntrySize(nameLen)
	}
}
