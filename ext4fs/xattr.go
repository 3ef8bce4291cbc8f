package ext4fs

import (
	"fmt"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4xattr"
)

// Extended attributes (attributes.rst): in the inode after i_extra_isize,
// a 4-byte magic then entries whose value offsets count from the first
// entry; in a block, a 32-byte header then entries whose value offsets
// count from the block start. Each entry is e_name_len (0x0),
// e_name_index (0x1), e_value_offs (0x2), e_value_inum (0x4),
// e_value_size (0x8), e_hash (0xC) and the name, padded to 4 bytes; four
// zero bytes end the list.
const (
	xattrMagic       = 0xEA020000
	xattrBlockHeader = 32
	xattrEntryHeader = 16
)

// readXattrs returns in's attributes from the inode body b and its xattr
// block, or nil when it has none.
func (f *FS) readXattrs(in *Inode, b []byte) (map[string][]byte, error) {
	var m map[string][]byte
	if in.raw.extraFields {
		start := 128 + int(in.raw.ExtraIsize)
		if start+4 <= len(b) && le.Uint32(b[start:]) == xattrMagic {
			m = map[string][]byte{}
			area := b[start+4:]
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
		if magic, blocks := le.Uint32(buf), le.Uint32(buf[8:]); magic != xattrMagic || blocks != 1 {
			return nil, corrupt("inode %d: xattr block %d: magic %#x, %d blocks", in.Ino, blk, magic, blocks)
		}
		if f.csum {
			want := le.Uint32(buf[0x10:])
			c := make([]byte, len(buf))
			copy(c, buf)
			clear(c[0x10:0x14])
			if got := crc32c(crc32c(f.csumSeed, le.AppendUint64(nil, blk)), c); got != want {
				return nil, corrupt("inode %d: xattr block %d: checksum %#08x, computed %#08x", in.Ino, blk, want, got)
			}
		}
		if m == nil {
			m = map[string][]byte{}
		}
		if err := parseXattrs(buf[xattrBlockHeader:], buf, m); err != nil {
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
		if le.Uint32(area[off:]) == 0 {
			return nil
		}
		if len(area)-off < xattrEntryHeader {
			return fmt.Errorf("entry at %d overruns the area", off)
		}
		nameLen, index := int(area[off]), area[off+1]
		valOff, inum, valSize := int(le.Uint16(area[off+2:])), le.Uint32(area[off+4:]), int64(le.Uint32(area[off+8:]))
		if off+xattrEntryHeader+nameLen > len(area) {
			return fmt.Errorf("name of entry at %d overruns the area", off)
		}
		name, ok := ext4xattr.JoinName(index, string(area[off+xattrEntryHeader:off+xattrEntryHeader+nameLen]))
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
		off += (xattrEntryHeader + nameLen + 3) &^ 3
	}
}
