package ext4img

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4xattr"
)

// xattr is one attribute as stored: name index, name suffix, value.
type xattr struct {
	index uint8
	name  string
	value []byte
}

// checkXattrs rejects names ext4 cannot store and attribute sets that fit
// neither the inode nor one block.
func checkXattrs(m map[string][]byte, bs int) error {
	if len(m) == 0 {
		return nil
	}
	for name := range m {
		_, suffix, ok := ext4xattr.SplitName(name)
		if !ok {
			return fmt.Errorf("xattr %q: name has no user., trusted., security. or system. prefix", name)
		}
		if len(suffix) > ext4format.MaxNameLen {
			return fmt.Errorf("xattr %q: name longer than %d bytes", name, ext4format.MaxNameLen)
		}
	}
	xs, err := sortedXattrs(m)
	if err != nil {
		return err
	}
	if xattrBlockBytes(xs) > bs {
		return fmt.Errorf("xattrs need %d bytes, more than one %d-byte block", xattrBlockBytes(xs), bs)
	}
	return nil
}

// sortedXattrs converts and sorts attributes in the order the kernel
// searches an xattr block: by index, name length, name.
func sortedXattrs(m map[string][]byte) ([]xattr, error) {
	xs := make([]xattr, 0, len(m))
	for full, v := range m {
		idx, suffix, _ := ext4xattr.SplitName(full)
		if ext4xattr.IsACL(idx) {
			var err error
			if v, err = ext4xattr.ACLToDisk(v); err != nil {
				return nil, fmt.Errorf("xattr %q: %w", full, err)
			}
		}
		xs = append(xs, xattr{idx, suffix, v})
	}
	sort.Slice(xs, func(i, j int) bool {
		a, b := xs[i], xs[j]
		if a.index != b.index {
			return a.index < b.index
		}
		if len(a.name) != len(b.name) {
			return len(a.name) < len(b.name)
		}
		return a.name < b.name
	})
	return xs, nil
}

// xattrBodyBytes is the room xs need after the ibody header magic: entries,
// the 4-byte end marker, values.
func xattrBodyBytes(xs []xattr) int {
	n := 4
	for _, x := range xs {
		n += ext4format.XattrEntrySize(len(x.name)) + ext4format.XattrValueSize(len(x.value))
	}
	return n
}

func xattrBlockBytes(xs []xattr) int { return ext4format.XattrHeaderSize + xattrBodyBytes(xs) }

// inodeXattrRoom is the in-inode area after i_extra_isize, minus the magic.
const inodeXattrRoom = inodeSize - xattrsAt - ext4format.XattrIbodyHeaderSize

// encodeXattrBody writes entries from the start of area and values from its
// end downwards; value offsets are relative to valueBase (the first entry
// for in-inode attributes, the block start for a block).
func encodeXattrBody(area []byte, entriesAt, valueBase int, xs []xattr) {
	end := len(area)
	off := entriesAt
	for _, x := range xs {
		e := ext4format.XattrEntry{NameLen: uint8(len(x.name)), NameIndex: x.index, ValueSize: uint32(len(x.value))}
		if len(x.value) > 0 {
			end -= ext4format.XattrValueSize(len(x.value))
			copy(area[end:], x.value)
			e.ValueOffs = uint16(end - valueBase)
		}
		e.Hash = xattrHash(x.name, x.value)
		e.Marshal(area[off:])
		copy(area[off+ext4format.XattrEntryHeaderSize:], x.name)
		off += ext4format.XattrEntrySize(len(x.name))
	}
}

// encodeInodeXattrs returns the in-inode attribute area (from offset 0xA0)
// holding xs, or nil when they do not fit.
func encodeInodeXattrs(xs []xattr) []byte {
	if len(xs) == 0 || xattrBodyBytes(xs) > inodeXattrRoom {
		return nil
	}
	area := make([]byte, inodeSize-xattrsAt)
	binary.LittleEndian.PutUint32(area, ext4format.XattrMagic) // the ibody header
	encodeXattrBody(area[ext4format.XattrIbodyHeaderSize:], 0, 0, xs)
	return area
}

// encodeXattrBlock returns an xattr block holding xs, with h_refcount zero
// (set when the block is written, once its sharers are known).
func encodeXattrBlock(xs []xattr, bs int) []byte {
	b := make([]byte, bs)
	encodeXattrBody(b, ext4format.XattrHeaderSize, 0, xs)
	// h_hash folds the entry hashes (ext4_xattr_rehash).
	var h uint32
	var e ext4format.XattrEntry
	for off := ext4format.XattrHeaderSize; !ext4format.XattrListEnd(b[off:]); off += ext4format.XattrEntrySize(int(e.NameLen)) {
		e.Unmarshal(b[off:])
		h = h<<16 ^ h>>16 ^ e.Hash
	}
	ext4format.XattrHeader{Magic: ext4format.XattrMagic, Blocks: 1, Hash: h}.Marshal(b)
	return b
}

// xattrHash is ext4_xattr_hash_entry: the name bytes (unsigned), then the
// value as little-endian 32-bit words, zero-padded.
func xattrHash(name string, value []byte) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<5 ^ h>>27 ^ uint32(name[i])
	}
	for i := 0; i < len(value); i += 4 {
		var w [4]byte
		copy(w[:], value[i:])
		h = h<<16 ^ h>>16 ^ binary.LittleEndian.Uint32(w[:])
	}
	return h
}
