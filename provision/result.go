package provision

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"maps"
	"slices"

	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// result clamps the tree's times, counts it, and derives the image's
// UUID and hash seed from everything in it.
func (in *installer) result() (*Result, error) {
	if !in.opts.Time.IsZero() {
		in.tree.ClampTimes(in.opts.Time)
	}
	id, err := in.treeDigest()
	if err != nil {
		return nil, err
	}
	res := in.res
	res.Tree, res.Time, res.store = in.tree, in.time, in.store
	copy(res.UUID[:], id[:16])
	copy(res.HashSeed[:], id[16:])
	// RFC 4122 version 4 and variant bits, as mke2fs's random UUIDs have.
	res.UUID[6] = res.UUID[6]&0x0f | 0x40
	res.UUID[8] = res.UUID[8]&0x3f | 0x80
	for _, p := range in.tree.Paths() {
		n, _ := in.tree.Get(p)
		if n.Mode.IsRegular() {
			res.UnpackedBytes += n.Size
		}
	}
	res.Files = in.tree.Len()
	return res, nil
}

// treeDigest hashes every path with its metadata and its content's
// SHA-1 (known for stored files, computed for overlay files), so trees
// that differ in anything get different UUIDs.
func (in *installer) treeDigest() ([32]byte, error) {
	h := sha256.New()
	io.WriteString(h, "rootfs-synth provision tree v1\x00")
	var num [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(num[:], v)
		h.Write(num[:])
	}
	for _, p := range in.tree.Paths() {
		n, _ := in.tree.Get(p)
		io.WriteString(h, p+"\x00"+n.Linkname+"\x00")
		put(uint64(n.Mode))
		put(uint64(n.UID)<<32 | uint64(n.GID))
		put(uint64(n.ModTime.UnixNano()))
		put(uint64(n.Size))
		put(uint64(n.Devmajor)<<32 | uint64(n.Devminor))
		for _, k := range slices.Sorted(maps.Keys(n.Xattrs)) {
			io.WriteString(h, k+"\x00"+string(n.Xattrs[k])+"\x00")
		}
		if n.Mode.IsRegular() {
			sum, err := in.contentSum(n)
			if err != nil {
				return [32]byte{}, err
			}
			io.WriteString(h, sum+"\x00")
		}
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

func (in *installer) contentSum(n *rootfs.Node) (string, error) {
	if s, ok := in.sums[n]; ok {
		return s, nil
	}
	if n.Content == nil {
		return "", nil
	}
	rc, err := n.Content()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
