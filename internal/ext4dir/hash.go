package ext4dir

import (
	"encoding/binary"
	"math/bits"
)

// Hash is the half_md4 directory hash as the kernel's ext4fs_dirhash and
// e2fsprogs' ext2fs_dirhash compute it: the major hash (low bit clear) and
// the minor hash. signed selects the variant that reads name bytes as
// signed chars, what a filesystem without s_flags EXT2_FLAGS_UNSIGNED_HASH
// uses (mke2fs on x86 sets EXT2_FLAGS_SIGNED_HASH); ext4img writes the
// unsigned one. The two differ only for bytes of 0x80 and above.
func Hash(name string, seed [16]byte, signed bool) (uint32, uint32) {
	buf := [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	if seed != ([16]byte{}) {
		for i := range buf {
			buf[i] = binary.LittleEndian.Uint32(seed[4*i:])
		}
	}
	p := name
	for {
		var in [8]uint32
		str2hashbuf(p, &in, signed)
		halfMD4Transform(&buf, &in)
		if len(p) <= 32 {
			break
		}
		p = p[32:]
	}
	hash := buf[1] &^ 1
	if hash == 0x7fffffff<<1 { // EXT2_HTREE_EOF_32BIT << 1 is reserved
		hash = (0x7fffffff - 1) << 1
	}
	return hash, buf[2]
}

// str2hashbuf packs up to 32 bytes of msg into 8 words, padded with a
// length-derived pattern (str2hashbuf_unsigned, or str2hashbuf_signed).
func str2hashbuf(msg string, out *[8]uint32, signed bool) {
	n := uint32(len(msg))
	pad := n | n<<8
	pad |= pad << 16
	val := pad
	num := 8
	if len(msg) > 32 {
		msg = msg[:32]
	}
	k := 0
	for i := 0; i < len(msg); i++ {
		c := uint32(msg[i])
		if signed {
			c = uint32(int32(int8(msg[i])))
		}
		val = c + val<<8
		if i%4 == 3 {
			out[k] = val
			k++
			val = pad
			num--
		}
	}
	if num--; num >= 0 {
		out[k] = val
		k++
	}
	for ; num > 0; num-- {
		out[k] = pad
		k++
	}
}

// halfMD4Transform is the reduced MD4 of the ext2/3/4 directory index.
func halfMD4Transform(buf *[4]uint32, in *[8]uint32) {
	const k2, k3 = 0o13240474631, 0o15666365641
	f := func(x, y, z uint32) uint32 { return z ^ (x & (y ^ z)) }
	g := func(x, y, z uint32) uint32 { return (x & y) + ((x ^ y) & z) }
	h := func(x, y, z uint32) uint32 { return x ^ y ^ z }
	a, b, c, d := buf[0], buf[1], buf[2], buf[3]
	r := func(fn func(x, y, z uint32) uint32, a *uint32, b, c, d, x uint32, s int) {
		*a = bits.RotateLeft32(*a+fn(b, c, d)+x, s)
	}
	r(f, &a, b, c, d, in[0], 3)
	r(f, &d, a, b, c, in[1], 7)
	r(f, &c, d, a, b, in[2], 11)
	r(f, &b, c, d, a, in[3], 19)
	r(f, &a, b, c, d, in[4], 3)
	r(f, &d, a, b, c, in[5], 7)
	r(f, &c, d, a, b, in[6], 11)
	r(f, &b, c, d, a, in[7], 19)

	r(g, &a, b, c, d, in[1]+k2, 3)
	r(g, &d, a, b, c, in[3]+k2, 5)
	r(g, &c, d, a, b, in[5]+k2, 9)
	r(g, &b, c, d, a, in[7]+k2, 13)
	r(g, &a, b, c, d, in[0]+k2, 3)
	r(g, &d, a, b, c, in[2]+k2, 5)
	r(g, &c, d, a, b, in[4]+k2, 9)
	r(g, &b, c, d, a, in[6]+k2, 13)

	r(h, &a, b, c, d, in[3]+k3, 3)
	r(h, &d, a, b, c, in[7]+k3, 9)
	r(h, &c, d, a, b, in[2]+k3, 11)
	r(h, &b, c, d, a, in[6]+k3, 15)
	r(h, &a, b, c, d, in[1]+k3, 3)
	r(h, &d, a, b, c, in[5]+k3, 9)
	r(h, &c, d, a, b, in[0]+k3, 11)
	r(h, &b, c, d, a, in[4]+k3, 15)

	buf[0] += a
	buf[1] += b
	buf[2] += c
	buf[3] += d
}
