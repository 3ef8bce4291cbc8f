// Package ext4tree holds the trees that the ext4img and ext4fs tests write
// and read back: a Tree of ext4img entries and hard links, EveryKind (one
// tree with every entry kind ext4img writes) and a deterministic content
// generator. It is test support only: nothing here checks an image; the
// tests judge images with internal/ext4check (e2fsck, debugfs) or ext4fs.
//
// ext4img's own internal tests (package ext4img) cannot use it, since it
// imports ext4img; its external tests (ext4img_test) can.
package ext4tree

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
)

// Tree is what a test feeds an ext4img.Writer: entries, then hard links.
type Tree struct {
	Entries []ext4img.Entry
	Links   []ext4check.Link
}

// Add appends e to the entries.
func (tr *Tree) Add(e ext4img.Entry) { tr.Entries = append(tr.Entries, e) }

// AddTo adds the entries, then the links, to w. The error names the call
// that failed, Add(path) or Link(target, path), so a test can fail with it
// as it is.
func (tr *Tree) AddTo(w *ext4img.Writer) error {
	for _, e := range tr.Entries {
		if err := w.Add(e); err != nil {
			return fmt.Errorf("Add(%q): %w", e.Path, err)
		}
	}
	for _, l := range tr.Links {
		if err := w.Link(l.Target, l.Path); err != nil {
			return fmt.Errorf("Link(%q, %q): %w", l.Target, l.Path, err)
		}
	}
	return nil
}

// pattern is a deterministic, never-zero byte stream of a given length,
// generated as it is read: each 8-byte word depends on its offset and the
// seed, so misplaced blocks change the digest, and never-zero bytes mean no
// block can be mistaken for a hole.
type pattern struct {
	seed      uint64
	off, size int64
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	if rest := p.size - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	n := 0
	for n < len(b) {
		word := uint64(p.off+int64(n)) >> 3
		v := (word*0x9e3779b97f4a7c15 ^ p.seed) | 0x0101010101010101
		if (p.off+int64(n))&7 == 0 && len(b)-n >= 8 {
			binary.LittleEndian.PutUint64(b[n:], v)
			n += 8
			continue
		}
		b[n] = byte(v >> (8 * ((p.off + int64(n)) & 7)))
		n++
	}
	p.off += int64(n)
	return n, nil
}

// Pattern returns size bytes of seed's pattern. Nothing stores its
// digests: tests compare what they wrote with what they read back.
func Pattern(seed uint64, size int64) io.Reader { return &pattern{seed: seed, size: size} }

// PatternContent is an ext4img.Entry.Content serving Pattern(seed, size),
// from the start on every call.
func PatternContent(seed uint64, size int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(Pattern(seed, size)), nil }
}

// ModTime is the mtime of most entries of EveryKind.
var ModTime = time.Date(2024, 2, 29, 12, 34, 56, 789000000, time.UTC)

// Options says what differs between the tests that write EveryKind: the
// size of the big directory and of the huge file, and the block size.
type Options struct {
	// BigDir is the number of entries in many/ besides a hard link: enough
	// of them make it an htree.
	BigDir int
	// BigDirContent gives the entries of many/ 0 to 6 bytes of content
	// each; without it they are empty.
	BigDirContent bool
	// HugeSize is the size of /huge (over 4 GiB for 64-bit sizes, or
	// enough blocks for an extent tree of depth 1).
	HugeSize int64
	// BlockSize is the image's block size, 0 for ext4img's default of
	// 4096; a slow symlink's target is one block, so the longest one in
	// the tree is a byte shorter.
	BlockSize int
}

// EveryKind returns a tree with every entry kind ext4img writes: a
// directory of o.BigDir entries (an htree), a file of o.HugeSize bytes,
// files around block and extent boundaries, 255-byte and odd names, setuid,
// setgid and sticky modes, 32-bit owners, times before 1970 and after 2038
// and 2106, fast and slow symlinks (up to a block less a byte), hard links
// (one to a FIFO), character and block devices in both encodings, FIFOs,
// sockets, xattrs in the inode, in a block (shared), on directories and
// symlinks, many of them, a POSIX ACL, a 30-deep chain of directories and
// an empty one.
func EveryKind(o Options) *Tree {
	tr := &Tree{}
	t0 := ModTime
	dir := func(p string, perm fs.FileMode) {
		tr.Add(ext4img.Entry{Path: p, Mode: fs.ModeDir | perm, ModTime: t0})
	}
	tr.Add(ext4img.Entry{Path: "", Mode: fs.ModeDir | 0o755, ModTime: t0.Add(time.Hour),
		Xattrs: map[string][]byte{"user.root": []byte("top")}})
	dir("many", 0o755)
	for i := range o.BigDir {
		e := ext4img.Entry{Path: fmt.Sprintf("many/entry-%05d%s", i, strings.Repeat("x", i%60)),
			Mode: 0o644, ModTime: t0.Add(time.Duration(i) * time.Second)}
		if o.BigDirContent {
			e.Size, e.Content = int64(i%7), PatternContent(uint64(i), int64(i%7))
		}
		tr.Add(e)
	}
	tr.Add(ext4img.Entry{Path: "huge", Mode: 0o600, UID: 1000, GID: 1000, ModTime: t0,
		Size: o.HugeSize, Content: PatternContent(42, o.HugeSize)})
	for i, size := range []int64{1, 59, 60, 1023, 1024, 1025, 4095, 4096, 4097, 1 << 20, 1<<20 + 5, 3<<20 + 5} {
		tr.Add(ext4img.Entry{Path: fmt.Sprintf("size-%d", size), Mode: 0o644, ModTime: t0,
			Size: size, Content: PatternContent(uint64(i), size)})
	}

	long := strings.Repeat("n", 255)
	dir("names", 0o755)
	tr.Add(ext4img.Entry{Path: "names/" + long, Mode: 0o644, ModTime: t0})
	tr.Add(ext4img.Entry{Path: "names/" + strings.Repeat("名", 85), Mode: 0o644, ModTime: t0}) // 255 bytes
	tr.Add(ext4img.Entry{Path: "names/ünïcødé ☃ \x7f\x01", Mode: 0o644, ModTime: t0})
	dir("names/"+long[:254]+"d", 0o700)

	dir("modes", 0o755)
	tr.Add(ext4img.Entry{Path: "modes/setuid", Mode: fs.ModeSetuid | 0o755, ModTime: t0, Size: 3, Content: PatternContent(7, 3)})
	tr.Add(ext4img.Entry{Path: "modes/setgid", Mode: fs.ModeSetgid | 0o755, ModTime: t0})
	tr.Add(ext4img.Entry{Path: "modes/all", Mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777, ModTime: t0})
	tr.Add(ext4img.Entry{Path: "modes/none", Mode: 0, ModTime: t0})
	dir("modes/tmp", fs.ModeSticky|0o777)
	dir("modes/sgid-dir", fs.ModeSetgid|0o775)

	dir("owners", 0o755)
	tr.Add(ext4img.Entry{Path: "owners/big", Mode: 0o644, UID: 4000000000, GID: 4294967294, ModTime: t0})
	tr.Add(ext4img.Entry{Path: "owners/nobody", Mode: 0o644, UID: 65534, GID: 65534, ModTime: t0})
	tr.Add(ext4img.Entry{Path: "owners/17bit", Mode: 0o644, UID: 70000, GID: 131072, ModTime: t0})

	dir("times", 0o755)
	for _, tm := range []time.Time{
		time.Unix(0, 0), time.Unix(1, 999999999), time.Date(1960, 5, 6, 7, 8, 9, 1, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC), time.Date(2106, 2, 7, 6, 28, 16, 5, time.UTC),
		time.Date(2400, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		tr.Add(ext4img.Entry{Path: "times/" + tm.Format(time.RFC3339Nano), Mode: 0o644, ModTime: tm})
	}

	dir("links", 0o755)
	slowMax := o.BlockSize - 1
	if o.BlockSize == 0 {
		slowMax = 4095
	}
	tr.Add(ext4img.Entry{Path: "links/fast", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: "../size-1"})
	tr.Add(ext4img.Entry{Path: "links/fast59", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: strings.Repeat("f", 59)})
	tr.Add(ext4img.Entry{Path: "links/slow60", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: strings.Repeat("s", 60)})
	tr.Add(ext4img.Entry{Path: "links/slow1000", Mode: fs.ModeSymlink | 0o777, UID: 5, GID: 6, ModTime: t0,
		Linkname: slowTarget(999)})
	tr.Add(ext4img.Entry{Path: fmt.Sprintf("links/slow%d", slowMax), Mode: fs.ModeSymlink | 0o777, UID: 5, GID: 6, ModTime: t0,
		Linkname: slowTarget(slowMax)})
	tr.Add(ext4img.Entry{Path: "links/target", Mode: 0o640, ModTime: t0, Size: 10000, Content: PatternContent(9, 10000),
		Xattrs: map[string][]byte{"user.linked": []byte("yes")}})
	tr.Links = append(tr.Links, ext4check.Link{Path: "links/hard1", Target: "links/target"},
		ext4check.Link{Path: "many/hard2", Target: "links/target"},
		ext4check.Link{Path: "names/hard-fifo", Target: "dev/fifo"})

	dir("dev", 0o755)
	tr.Add(ext4img.Entry{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, ModTime: t0, Devmajor: 1, Devminor: 3})
	tr.Add(ext4img.Entry{Path: "dev/big-minor", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, ModTime: t0, Devmajor: 4095, Devminor: 1<<20 - 1})
	tr.Add(ext4img.Entry{Path: "dev/nvme0n1p1", Mode: fs.ModeDevice | 0o660, GID: 6, ModTime: t0, Devmajor: 259, Devminor: 70000})
	tr.Add(ext4img.Entry{Path: "dev/sda", Mode: fs.ModeDevice | 0o660, ModTime: t0, Devmajor: 8, Devminor: 0})
	tr.Add(ext4img.Entry{Path: "dev/fifo", Mode: fs.ModeNamedPipe | 0o644, ModTime: t0})
	tr.Add(ext4img.Entry{Path: "dev/log", Mode: fs.ModeSocket | 0o666, ModTime: t0})

	dir("xattrs", 0o755)
	capV := []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	tr.Add(ext4img.Entry{Path: "xattrs/cap", Mode: 0o755, ModTime: t0, Size: 8, Content: PatternContent(3, 8),
		Xattrs: map[string][]byte{"security.capability": capV}})
	tr.Add(ext4img.Entry{Path: "xattrs/small", Mode: 0o644, ModTime: t0,
		Xattrs: map[string][]byte{"user.a": []byte("1"), "user.empty": {}, "trusted.t": []byte("t\x00\xff")}})
	big := map[string][]byte{"user.big": []byte(strings.Repeat("0123456789", 70)), "security.capability": capV}
	tr.Add(ext4img.Entry{Path: "xattrs/block", Mode: 0o644, ModTime: t0, Xattrs: big})
	tr.Add(ext4img.Entry{Path: "xattrs/block-shared", Mode: 0o644, ModTime: t0, Xattrs: big})
	many := map[string][]byte{}
	for i := range 20 {
		many[fmt.Sprintf("user.attr%02d", i)] = []byte(strings.Repeat("v", i))
	}
	tr.Add(ext4img.Entry{Path: "xattrs/many", Mode: 0o644, ModTime: t0, Xattrs: many})
	tr.Add(ext4img.Entry{Path: "xattrs/dir", Mode: fs.ModeDir | 0o755, ModTime: t0, Xattrs: big})
	tr.Add(ext4img.Entry{Path: "xattrs/symlink", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: "cap",
		Xattrs: map[string][]byte{"user.l": []byte("on a link")}})
	// user::rw-, user:1000:r--, group::r--, mask::r--, other::---
	acl := []byte{2, 0, 0, 0}
	for _, e := range [][3]uint32{{1, 6, ^uint32(0)}, {2, 4, 1000}, {4, 4, ^uint32(0)}, {0x10, 4, ^uint32(0)}, {0x20, 0, ^uint32(0)}} {
		acl = append(acl, byte(e[0]), byte(e[0]>>8), byte(e[1]), 0, byte(e[2]), byte(e[2]>>8), byte(e[2]>>16), byte(e[2]>>24))
	}
	tr.Add(ext4img.Entry{Path: "xattrs/acl", Mode: 0o640, ModTime: t0, Xattrs: map[string][]byte{"system.posix_acl_access": acl}})

	dir("deep", 0o755)
	p := "deep"
	for i := range 30 {
		p += fmt.Sprintf("/%d", i)
		dir(p, 0o755)
	}
	dir("empty-dir", 0o500)
	return tr
}

// slowTarget is a symlink target of n bytes: "abc/abc/.../xyz".
func slowTarget(n int) string { return strings.Repeat("abc/", n/4) + "xyz"[:n%4] }

// DebugfsACLs returns m with POSIX ACL values as debugfs shows them, for
// comparing a manifest of the entries written (ext4check.FromEntries) or
// read by ext4fs with ext4check.ReadImage's: e2fsprogs gives entries
// without a qualifier (user::, group::, mask::, other::) the id 0 where the
// kernel, ext4img's input and ext4fs give ACL_UNDEFINED_ID (0xFFFFFFFF).
func DebugfsACLs(m ext4check.Manifest) ext4check.Manifest {
	out := ext4check.Manifest{}
	for p, n := range m {
		c := *n
		for _, name := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
			v, ok := n.Xattrs[name]
			if !ok {
				continue
			}
			b := []byte(v)
			for i := 4; i+8 <= len(b); i += 8 {
				if tag := b[i]; tag != 2 && tag != 8 {
					copy(b[i+4:i+8], []byte{0, 0, 0, 0})
				}
			}
			c.Xattrs = maps.Clone(c.Xattrs) // a copy: n is the caller's
			c.Xattrs[name] = string(b)
		}
		out[p] = &c
	}
	return out
}
