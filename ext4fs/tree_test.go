package ext4fs_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
)

var t0 = time.Date(2024, 2, 29, 12, 34, 56, 789000000, time.UTC)

// pattern yields size deterministic, never-zero bytes depending on seed
// and offset, so a misplaced block changes the digest.
type pattern struct {
	seed      uint64
	off, size int64
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.size-p.off))
	for i := range n {
		o := uint64(p.off) + uint64(i)
		b[i] = byte((o>>3)*0x9e3779b97f4a7c15>>(8*(o&7))^p.seed) | 1
	}
	p.off += int64(n)
	return n, nil
}

func patternContent(seed uint64, size int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(&pattern{seed: seed, size: size}), nil }
}

// tree is what a test feeds an ext4img.Writer.
type tree struct {
	entries []ext4img.Entry
	links   []ext4check.Link
}

func (tr *tree) add(e ext4img.Entry) { tr.entries = append(tr.entries, e) }

// kindsTree has every entry kind ext4img writes: a directory of bigDir
// entries (an htree), a file of hugeSize bytes, long and odd names, modes,
// owners, times, fast and slow symlinks, hard links, devices in both
// encodings, FIFOs, sockets, and xattrs in the inode, in a block (shared),
// on directories and symlinks, and a POSIX ACL.
func kindsTree(bigDir int, hugeSize int64) *tree {
	tr := &tree{}
	dir := func(p string, perm fs.FileMode) {
		tr.add(ext4img.Entry{Path: p, Mode: fs.ModeDir | perm, ModTime: t0})
	}
	tr.add(ext4img.Entry{Path: "", Mode: fs.ModeDir | 0o755, ModTime: t0.Add(time.Hour),
		Xattrs: map[string][]byte{"user.root": []byte("top")}})
	dir("many", 0o755)
	for i := range bigDir {
		tr.add(ext4img.Entry{Path: fmt.Sprintf("many/entry-%05d%s", i, strings.Repeat("x", i%40)),
			Mode: 0o644, ModTime: t0.Add(time.Duration(i) * time.Second), Size: int64(i % 7), Content: patternContent(uint64(i), int64(i%7))})
	}
	tr.add(ext4img.Entry{Path: "huge", Mode: 0o600, UID: 1000, GID: 1000, ModTime: t0,
		Size: hugeSize, Content: patternContent(42, hugeSize)})
	for i, size := range []int64{1, 59, 60, 1023, 1024, 1025, 4095, 4096, 4097, 1<<20 + 5} {
		tr.add(ext4img.Entry{Path: fmt.Sprintf("size-%d", size), Mode: 0o644, ModTime: t0,
			Size: size, Content: patternContent(uint64(i), size)})
	}
	long := strings.Repeat("n", 255)
	dir("names", 0o755)
	tr.add(ext4img.Entry{Path: "names/" + long, Mode: 0o644, ModTime: t0})
	tr.add(ext4img.Entry{Path: "names/" + strings.Repeat("名", 85), Mode: 0o644, ModTime: t0})
	tr.add(ext4img.Entry{Path: "names/ünïcødé ☃ \x7f\x01", Mode: 0o644, ModTime: t0})

	dir("modes", 0o755)
	tr.add(ext4img.Entry{Path: "modes/setuid", Mode: fs.ModeSetuid | 0o755, ModTime: t0, Size: 3, Content: patternContent(7, 3)})
	tr.add(ext4img.Entry{Path: "modes/all", Mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777, ModTime: t0})
	tr.add(ext4img.Entry{Path: "modes/none", Mode: 0, ModTime: t0})
	tr.add(ext4img.Entry{Path: "modes/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777, ModTime: t0})
	tr.add(ext4img.Entry{Path: "modes/sgid-dir", Mode: fs.ModeDir | fs.ModeSetgid | 0o2775, ModTime: t0})

	dir("owners", 0o755)
	tr.add(ext4img.Entry{Path: "owners/big", Mode: 0o644, UID: 4000000000, GID: 4294967294, ModTime: t0})
	tr.add(ext4img.Entry{Path: "owners/17bit", Mode: 0o644, UID: 70000, GID: 131072, ModTime: t0})

	dir("times", 0o755)
	for _, tm := range []time.Time{
		time.Unix(0, 0), time.Unix(1, 999999999), time.Date(1960, 5, 6, 7, 8, 9, 1, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC), time.Date(2106, 2, 7, 6, 28, 16, 5, time.UTC),
		time.Date(2400, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		tr.add(ext4img.Entry{Path: "times/" + tm.Format(time.RFC3339Nano), Mode: 0o644, ModTime: tm})
	}

	dir("links", 0o755)
	tr.add(ext4img.Entry{Path: "links/fast", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: "../size-1"})
	tr.add(ext4img.Entry{Path: "links/fast59", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: strings.Repeat("f", 59)})
	tr.add(ext4img.Entry{Path: "links/slow60", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: strings.Repeat("s", 60)})
	tr.add(ext4img.Entry{Path: "links/slow1000", Mode: fs.ModeSymlink | 0o777, UID: 5, GID: 6, ModTime: t0,
		Linkname: strings.Repeat("abc/", 249) + "xyz"})
	tr.add(ext4img.Entry{Path: "links/target", Mode: 0o640, ModTime: t0, Size: 10000, Content: patternContent(9, 10000),
		Xattrs: map[string][]byte{"user.linked": []byte("yes")}})
	tr.links = append(tr.links, ext4check.Link{Path: "links/hard1", Target: "links/target"},
		ext4check.Link{Path: "many/hard2", Target: "links/target"},
		ext4check.Link{Path: "names/hard-fifo", Target: "dev/fifo"})

	dir("dev", 0o755)
	tr.add(ext4img.Entry{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, ModTime: t0, Devmajor: 1, Devminor: 3})
	tr.add(ext4img.Entry{Path: "dev/big-minor", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, ModTime: t0, Devmajor: 4095, Devminor: 1<<20 - 1})
	tr.add(ext4img.Entry{Path: "dev/nvme0n1p1", Mode: fs.ModeDevice | 0o660, GID: 6, ModTime: t0, Devmajor: 259, Devminor: 70000})
	tr.add(ext4img.Entry{Path: "dev/sda", Mode: fs.ModeDevice | 0o660, ModTime: t0, Devmajor: 8, Devminor: 0})
	tr.add(ext4img.Entry{Path: "dev/fifo", Mode: fs.ModeNamedPipe | 0o644, ModTime: t0})
	tr.add(ext4img.Entry{Path: "dev/log", Mode: fs.ModeSocket | 0o666, ModTime: t0})

	dir("xattrs", 0o755)
	capV := []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	tr.add(ext4img.Entry{Path: "xattrs/cap", Mode: 0o755, ModTime: t0, Size: 8, Content: patternContent(3, 8),
		Xattrs: map[string][]byte{"security.capability": capV}})
	tr.add(ext4img.Entry{Path: "xattrs/small", Mode: 0o644, ModTime: t0,
		Xattrs: map[string][]byte{"user.a": []byte("1"), "user.empty": {}, "trusted.t": []byte("t\x00\xff")}})
	big := map[string][]byte{"user.big": []byte(strings.Repeat("0123456789", 70)), "security.capability": capV}
	tr.add(ext4img.Entry{Path: "xattrs/block", Mode: 0o644, ModTime: t0, Xattrs: big})
	tr.add(ext4img.Entry{Path: "xattrs/block-shared", Mode: 0o644, ModTime: t0, Xattrs: big})
	tr.add(ext4img.Entry{Path: "xattrs/dir", Mode: fs.ModeDir | 0o755, ModTime: t0, Xattrs: big})
	tr.add(ext4img.Entry{Path: "xattrs/symlink", Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: "cap",
		Xattrs: map[string][]byte{"user.l": []byte("on a link")}})
	// user::rw-, user:1000:r--, group::r--, mask::r--, other::---
	acl := []byte{2, 0, 0, 0}
	for _, e := range [][3]uint32{{1, 6, ^uint32(0)}, {2, 4, 1000}, {4, 4, ^uint32(0)}, {0x10, 4, ^uint32(0)}, {0x20, 0, ^uint32(0)}} {
		acl = append(acl, byte(e[0]), byte(e[0]>>8), byte(e[1]), 0, byte(e[2]), byte(e[2]>>8), byte(e[2]>>16), byte(e[2]>>24))
	}
	tr.add(ext4img.Entry{Path: "xattrs/acl", Mode: 0o640, ModTime: t0, Xattrs: map[string][]byte{"system.posix_acl_access": acl}})

	dir("deep", 0o755)
	p := "deep"
	for i := range 20 {
		p += fmt.Sprintf("/%d", i)
		dir(p, 0o755)
	}
	dir("empty-dir", 0o500)
	return tr
}

// build writes tr to a new image file.
func (tr *tree) build(t testing.TB, opts ext4img.Options) string {
	t.Helper()
	w := ext4img.NewWriter(opts)
	for _, e := range tr.entries {
		if err := w.Add(e); err != nil {
			t.Fatalf("Add(%q): %v", e.Path, err)
		}
	}
	for _, l := range tr.links {
		if err := w.Link(l.Path, l.Target); err != nil {
			t.Fatalf("Link(%q, %q): %v", l.Path, l.Target, err)
		}
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	return img
}

// openImage opens img with ext4fs.
func openImage(t testing.TB, img string) *ext4fs.FS {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := ext4fs.Open(f, st.Size())
	if err != nil {
		t.Fatalf("ext4fs.Open(%s): %v", img, err)
	}
	return fsys
}

// readManifest walks fsys as ext4check.ReadImage walks an image with
// debugfs: every path, not following symlinks, contents hashed.
func readManifest(fsys *ext4fs.FS) (ext4check.Manifest, error) {
	m := ext4check.Manifest{}
	byIno := map[uint32][]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		in := fi.Sys().(*ext4fs.Inode)
		key := "/" + p
		if p == "." {
			key = "/"
		}
		n := &ext4check.Node{UID: in.UID, GID: in.GID, Mtime: in.ModTime.Unix(), MtimeNsec: int64(in.ModTime.Nanosecond()),
			Perm: uint32(in.Mode.Perm()), Target: in.Linkname, Major: in.Devmajor, Minor: in.Devminor}
		for bit, v := range map[fs.FileMode]uint32{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
			if in.Mode&bit != 0 {
				n.Perm |= v
			}
		}
		switch in.Mode.Type() {
		case 0:
			n.Type, n.Size = 'f', in.Size
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			n.SHA256 = hex.EncodeToString(h.Sum(nil))
		case fs.ModeDir:
			n.Type = 'd'
		case fs.ModeSymlink:
			n.Type = 'l'
		case fs.ModeDevice | fs.ModeCharDevice:
			n.Type = 'c'
		case fs.ModeDevice:
			n.Type = 'b'
		case fs.ModeNamedPipe:
			n.Type = 'p'
		case fs.ModeSocket:
			n.Type = 's'
		}
		if len(in.Xattrs) > 0 {
			n.Xattrs = map[string]string{}
			for k, v := range in.Xattrs {
				n.Xattrs[k] = string(v)
			}
		}
		if n.Type != 'd' {
			byIno[in.Ino] = append(byIno[in.Ino], key)
			n.Nlink = in.Nlink
		}
		m[key] = n
		return nil
	})
	for _, paths := range byIno {
		sort.Strings(paths)
		if len(paths) > 1 {
			for _, p := range paths {
				m[p].LinkGroup = paths[0]
			}
		}
	}
	return m, err
}

// compare fails the test with the differences, at most 30.
func compare(t *testing.T, what string, want, got ext4check.Manifest) {
	t.Helper()
	if diffs := ext4check.Compare(want, got, ext4check.Options{}); len(diffs) > 0 {
		if len(diffs) > 30 {
			diffs = append(diffs[:30], fmt.Sprintf("... and %d more", len(diffs)-30))
		}
		t.Errorf("%s:\n%s", what, strings.Join(diffs, "\n"))
	}
}
