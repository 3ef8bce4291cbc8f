package ext4img

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/bits"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4dir"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// TestLayoutNear16TiB lays out images at the 2^32-block limit of a
// filesystem without 64bit, where group arithmetic in 32 bits overflows
// (it divided by zero, then miscounted the last group). Writing such an
// image is too slow for a test, so the free counts are checked against the
// block bitmaps, as e2fsck's pass 5 does.
func TestLayoutNear16TiB(t *testing.T) {
	for _, blocks := range []int64{1<<32 - 1, 1<<32 - 32768, 1<<32 - 32767} {
		w := NewWriter(Options{Size: blocks * 4096, NoJournal: true})
		l, err := w.planned()
		if err != nil {
			t.Errorf("Layout(Size: %d blocks) = %v", blocks, err)
			continue
		}
		if l.Blocks != blocks {
			t.Errorf("Layout(Size: %d blocks).Blocks = %d, want %d", blocks, l.Blocks, blocks)
		}
		bitmap := make([]byte, l.BlockSize)
		var free int64
		for g, gp := range l.groups {
			l.blockBitmap(bitmap, g)
			zeros := 0
			for i := 0; i < len(bitmap); i += 8 {
				zeros += 64 - bits.OnesCount64(binary.LittleEndian.Uint64(bitmap[i:]))
			}
			if uint32(zeros) != gp.freeBlocks {
				t.Errorf("%d blocks: group %d: %d zero bits in the block bitmap, descriptor says %d free", blocks, g, zeros, gp.freeBlocks)
			}
			free += int64(gp.freeBlocks)
		}
		if free != l.FreeBlocks {
			t.Errorf("%d blocks: groups have %d free blocks, superblock %d", blocks, free, l.FreeBlocks)
		}
	}
}

// TestDirNlinkLimit: a directory's link count is 2 + subdirectories up to
// EXT4_LINK_MAX (65000), and 1 beyond (dir_nlink), as e2fsck expects.
func TestDirNlinkLimit(t *testing.T) {
	for _, tt := range []struct {
		subdirs int
		want    string
	}{{64998, "Links: 65000 "}, {64999, "Links: 1 "}} {
		w := NewWriter(Options{BlockSize: 1024, NoJournal: true, HeadroomBlocks: -1, HeadroomInodes: -1})
		if err := w.Add(Entry{Path: "d", Mode: fs.ModeDir | 0o755}); err != nil {
			t.Fatal(err)
		}
		for i := range tt.subdirs {
			if err := w.Add(Entry{Path: fmt.Sprintf("d/%05d", i), Mode: fs.ModeDir | 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		img := writeImage(t, w)
		fsck(t, img)
		mustContain(t, fmt.Sprintf("stat of a directory with %d subdirectories", tt.subdirs), debugfs(t, img, "stat d"), tt.want)
	}
}

// TestHtreeCollisionAcrossLeaves puts two names with the same hash on both
// sides of a leaf boundary: the second leaf's index entry must carry the
// continuation bit (hash|1) for lookups of that hash to search both.
func TestHtreeCollisionAcrossLeaves(t *testing.T) {
	seed := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	seen := map[uint32]string{}
	var a, b string
	var hash uint32
	for i := 0; b == ""; i++ {
		name := fmt.Sprintf("c%07d", i)
		h, _ := ext4dir.Hash(name, seed, false)
		if o, ok := seen[h]; ok && h > 1<<31 { // room below for fillers
			a, b, hash = o, name, h
		}
		seen[h] = name
	}
	for _, bs := range []int{1024, 4096} {
		for _, csum := range []bool{false, true} {
			w := NewWriter(Options{BlockSize: bs, HashSeed: seed, MetadataCsum: csum})
			add := func(p string) {
				if err := w.Add(Entry{Path: p, Mode: 0o644}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Add(Entry{Path: "d", Mode: fs.ModeDir | 0o755}); err != nil {
				t.Fatal(err)
			}
			add("d/" + a)
			add("d/" + b)
			// 16-byte entries; with the tail of metadata_csum a leaf holds
			// one fewer. Fill two leaves and all but one slot of the third
			// with names hashing below the pair.
			per := bs / 16
			if csum {
				per--
			}
			for i, need := 0, 3*per-1; need > 0; i++ {
				name := fmt.Sprintf("f%07d", i)
				if h, _ := ext4dir.Hash(name, seed, false); h < hash {
					add("d/" + name)
					need--
				}
			}
			img := writeImage(t, w)
			fsck(t, img)
			mustContain(t, fmt.Sprintf("htree of d (%d-byte blocks, csum %v)", bs, csum), debugfs(t, img, "htree d"),
				fmt.Sprintf("Hash %#08x, block", hash|1))
		}
	}
}

// TestXattrPlacementBoundary: attributes that exactly fill the 92 bytes
// after the inode's extra fields stay in the inode, one more byte moves
// them to a block; a block exactly filled, and empty values, are valid.
func TestXattrPlacementBoundary(t *testing.T) {
	// "user.a": a 20-byte entry, the 4-byte magic and 4-byte end marker.
	tests := []struct {
		path    string
		xattrs  map[string][]byte
		inInode bool
	}{
		{"fits", map[string][]byte{"user.a": make([]byte, 68)}, true},
		{"one-over", map[string][]byte{"user.a": make([]byte, 69)}, false},
		{"empty-values", map[string][]byte{"user.a": {}, "user.bb": nil, "trusted.c": {}}, true},
		{"block-full", map[string][]byte{"user.big": make([]byte, 4096-32-20-4)}, false},
	}
	w := NewWriter(Options{})
	for _, tt := range tests {
		for k, v := range tt.xattrs {
			for i := range v {
				v[i] = byte(i)
			}
			tt.xattrs[k] = v
		}
		if err := w.Add(Entry{Path: tt.path, Mode: 0o644, Xattrs: tt.xattrs}); err != nil {
			t.Fatal(err)
		}
	}
	over := map[string][]byte{"user.big": make([]byte, 4096-32-20-4+1)}
	if err := w.Add(Entry{Path: "too-big", Mode: 0o644, Xattrs: over}); err == nil {
		t.Errorf("Add(xattrs one byte over a block) = nil, want an error")
	}
	img := writeImage(t, w)
	fsck(t, img)
	for _, tt := range tests {
		out := debugfs(t, img, "stat "+tt.path)
		if got := strings.Contains(out, "File ACL: 0\n"); got != tt.inInode {
			t.Errorf("%s: attributes in the inode = %v, want %v:\n%s", tt.path, got, tt.inInode, out)
		}
		for k, v := range tt.xattrs {
			got := debugfs(t, img, "ea_get -x "+tt.path+" "+k)
			if len(v) > 0 && !strings.Contains(got, fmt.Sprintf("%02x %02x", v[len(v)-2], v[len(v)-1])) {
				t.Errorf("ea_get %s %s = %q, want a value ending %x", tt.path, k, got, v[len(v)-2:])
			}
		}
	}
}

// TestLinksToSpecialFiles: hard links to fast and slow symlinks, devices,
// FIFOs and sockets, owners above 16 bits and the largest device numbers.
func TestLinksToSpecialFiles(t *testing.T) {
	w := NewWriter(Options{BlockSize: 1024})
	for _, e := range []Entry{
		{Path: "s", Mode: fs.ModeSymlink | 0o777, Linkname: "target", UID: 70000, GID: 1<<32 - 2},
		{Path: "slow", Mode: fs.ModeSymlink | 0o777, Linkname: strings.Repeat("a", 1023)},
		{Path: "d", Mode: fs.ModeDevice | 0o600, Devmajor: 1<<12 - 1, Devminor: 1<<20 - 1},
		{Path: "p", Mode: fs.ModeNamedPipe | 0o600},
		{Path: "k", Mode: fs.ModeSocket | 0o600},
	} {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		for _, target := range []string{"s", "slow", "d", "p", "k"} {
			if err := w.Link(target, fmt.Sprintf("%s%d", target, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	img := writeImage(t, w)
	fsck(t, img)
	mustContain(t, "stat s", debugfs(t, img, "stat s2"), "User: 70000 ", "Group:    -2 ", "Links: 4 ", `Fast link dest: "target"`)
	mustContain(t, "stat slow", debugfs(t, img, "stat slow0"), "Links: 4 ", "Size: 1023")
	mustContain(t, "stat d", debugfs(t, img, "stat d1"), "Links: 4 ", "4095:1048575")
	mustContain(t, "stat p", debugfs(t, img, "stat p1"), "Type: FIFO", "Links: 4 ")
	mustContain(t, "stat k", debugfs(t, img, "stat k1"), "Type: socket", "Links: 4 ")
}

// TestSmallLastGroup: explicit sizes whose last group has only a few
// blocks, in a backup group (3) and not (2, 4), with both block sizes.
func TestSmallLastGroup(t *testing.T) {
	for _, bs := range []int{1024, 4096} {
		fdb := int64(0) // first data block
		if bs == 1024 {
			fdb = 1
		}
		for _, last := range []int64{2, 3, 4} {
			for _, extra := range []int64{1, 2, 50} {
				blocks := fdb + last*int64(8*bs) + extra
				w := NewWriter(Options{BlockSize: bs, Size: blocks * int64(bs)})
				tinyTree(t, w, 8)
				l, err := w.planned()
				if err != nil {
					t.Errorf("Layout(%d blocks of %d) = %v", blocks, bs, err)
					continue
				}
				if l.Blocks != blocks && !ext4format.HasSuperBackup(uint32(last)) {
					t.Errorf("Layout(%d blocks of %d).Blocks = %d, want all of them", blocks, bs, l.Blocks)
				}
				fsck(t, writeImage(t, w))
			}
		}
	}
}

// TestInodesFillLastGroup: right-sized images whose last inode is the last
// of a group (no free inode at all), and one on either side.
func TestInodesFillLastGroup(t *testing.T) {
	for _, files := range []int{11, 12, 13} {
		w := NewWriter(Options{BlockSize: 1024, NoJournal: true, HeadroomInodes: -1, HeadroomBlocks: -1})
		// 20 MiB of zeros (holes in the image) spread the inodes over 3 groups.
		if err := w.Add(Entry{Path: "big", Mode: 0o644, Size: 20 << 20, Content: bytesContent(make([]byte, 20<<20))}); err != nil {
			t.Fatal(err)
		}
		for i := range files {
			if err := w.Add(Entry{Path: fmt.Sprintf("f%d", i), Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
		}
		l, err := w.planned()
		if err != nil {
			t.Fatal(err)
		}
		if files == 12 && (l.FreeInodes != 0 || l.Groups != 3 || l.InodesPerGroup != 8) {
			t.Errorf("with %d files: %d groups of %d inodes, %d free; want 3 of 8, 0 free", files, l.Groups, l.InodesPerGroup, l.FreeInodes)
		}
		fsck(t, writeImage(t, w))
	}
}

// TestHardLinkLimit: a file takes EXT4_LINK_MAX (65000) names; one more is
// an error naming the target, not a wrapped 16-bit link count.
func TestHardLinkLimit(t *testing.T) {
	w := NewWriter(Options{NoJournal: true})
	for _, p := range []string{"d", "d2"} {
		if err := w.Add(Entry{Path: p, Mode: fs.ModeDir | 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Add(Entry{Path: "d/f", Mode: 0o644, Size: 3, Content: bytesContent([]byte("abc"))}); err != nil {
		t.Fatal(err)
	}
	for i := range ext4format.LinkMax - 1 {
		if err := w.Link("d/f", fmt.Sprintf("d2/%05d", i)); err != nil {
			t.Fatalf("Link number %d: %v", i+1, err)
		}
	}
	if err := w.Link("d/f", "d2/one-more"); err == nil || !strings.Contains(err.Error(), "65000 links") {
		t.Errorf("Link(65001st name) = %v, want an error saying the target has 65000 links", err)
	}
	img := writeImage(t, w)
	fsck(t, img)
	mustContain(t, "stat d/f", debugfs(t, img, "stat d/f"), "Links: 65000 ")
}

// TestLayoutDescriptorLimit: without meta_bg every backup group holds a
// copy of all group descriptors. With 1 KiB blocks above ~1.5 TiB that
// copy outgrows its group (it overlapped the next one); mke2fs switches to
// meta_bg once it takes over 3/4 of a group, and we refuse such sizes.
func TestLayoutDescriptorLimit(t *testing.T) {
	max1K := int64(1 + 196608*8192) // 196608 groups: 6144 descriptor blocks = 3/4 of a group
	for _, tt := range []struct {
		bs     int
		blocks int64
		ok     bool
	}{
		{1024, max1K, true},
		{1024, max1K + 1, false},
		{1024, 2 << 30, false},
		{1024, 1<<32 - 1, false},
		{4096, 1<<32 - 1, true},
	} {
		w := NewWriter(Options{BlockSize: tt.bs, Size: tt.blocks * int64(tt.bs), NoJournal: true})
		l, err := w.planned()
		if (err == nil) != tt.ok {
			t.Errorf("Layout(%d blocks of %d) = %v, want ok %v", tt.blocks, tt.bs, err, tt.ok)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "meta_bg") {
				t.Errorf("Layout(%d blocks of %d) = %v, want an error naming meta_bg", tt.blocks, tt.bs, err)
			}
			continue
		}
		for i, r := range l.reserved {
			if end := l.fdb + (uint32(l.backups[i])+1)*l.bpg; r.start+r.len > end {
				t.Errorf("%d blocks of %d: backup in group %d ends at block %d, past its group's end %d", tt.blocks, tt.bs, l.backups[i], r.start+r.len, end)
				break
			}
		}
	}
}

// TestExactMinimumSize: the size of a right-sized image without headroom,
// given back as Options.Size, must fit (same layout); one block less must
// not, and the error must name both sizes.
func TestExactMinimumSize(t *testing.T) {
	for _, bs := range []int{1024, 4096} {
		for _, noJournal := range []bool{false, true} {
			o := Options{BlockSize: bs, NoJournal: noJournal, HeadroomBlocks: -1, HeadroomInodes: -1}
			w := NewWriter(o)
			tinyTree(t, w, 40)
			l, err := w.planned()
			if err != nil {
				t.Fatal(err)
			}
			o.Size = l.Size()
			w = NewWriter(o)
			tinyTree(t, w, 40)
			if got, err := w.Layout(); err != nil || got.Blocks != l.Blocks || got.FreeBlocks != l.FreeBlocks {
				t.Errorf("bs %d, no journal %v: Layout(Size: %d, the minimum) = %v, want %d blocks, %d free", bs, noJournal, o.Size, err, l.Blocks, l.FreeBlocks)
				continue
			}
			fsck(t, writeImage(t, w))
			o.Size -= int64(bs)
			w = NewWriter(o)
			tinyTree(t, w, 40)
			want := fmt.Sprintf("the tree needs %d bytes, more than the size %d given", l.Size(), o.Size)
			if _, err := w.Layout(); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("bs %d, no journal %v: Layout(Size: one block below the minimum) = %v, want %q", bs, noJournal, err, want)
			}
		}
	}
}

// TestDirectoryExactlyFillsBlock: entries that fill a directory block to
// its last byte (or to its metadata_csum tail) keep it one block; one more
// entry starts the second; more again cross into a hashed directory.
func TestDirectoryExactlyFillsBlock(t *testing.T) {
	for _, bs := range []int{1024, 4096} {
		for _, csum := range []bool{false, true} {
			space := bs
			if csum {
				space -= ext4format.DirTailSize
			}
			fill := space - 24 // after "." and ".."
			r := fill % 16     // one entry of 16+r bytes, the rest of 16 (8-byte names)
			short := (fill - 16 - r) / 16
			for _, tt := range []struct {
				extra int
				size  string
			}{{0, fmt.Sprintf("Size: %d\n", bs)}, {1, fmt.Sprintf("Size: %d\n", 2*bs)}, {1 + 2*space/16, "Flags: 0x81000"}} {
				w := NewWriter(Options{BlockSize: bs, MetadataCsum: csum, NoJournal: true})
				if err := w.Add(Entry{Path: "d", Mode: fs.ModeDir | 0o755}); err != nil {
					t.Fatal(err)
				}
				names := []string{strings.Repeat("0", 8+r)}
				for i := range short + tt.extra {
					names = append(names, fmt.Sprintf("%08d", i+1))
				}
				for _, n := range names {
					if err := w.Add(Entry{Path: "d/" + n, Mode: 0o644}); err != nil {
						t.Fatal(err)
					}
				}
				img := writeImage(t, w)
				fsck(t, img)
				mustContain(t, fmt.Sprintf("stat of a directory of %d entries (%d-byte blocks, csum %v)", len(names), bs, csum),
					debugfs(t, img, "stat d"), tt.size)
			}
		}
	}
}
