//go:build linux

package ext4patch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// patchTime is Options.Time in the tests: what directories' mtimes
// become when a patch adds or removes one of their entries.
var patchTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// imageKind is one kind of image the patcher must handle.
type imageKind struct {
	name string
	make func(t testing.TB, dir string) string // writes an image into dir
	// noRoot: mke2fs -d copies neither the root's attributes nor
	// sub-second mtimes.
	mke2fs bool
}

// smallTree is a tree with a bit of everything patches meet: nested
// directories, a directory big enough for a hash tree, hard links, a
// symlink to a directory, fast and slow symlinks, a device.
func smallTree(bigDir int) *ext4tree.Tree {
	tr := &ext4tree.Tree{}
	t0 := ext4tree.ModTime
	add := func(e ext4img.Entry) { e.ModTime = t0; tr.Add(e) }
	add(ext4img.Entry{Path: "", Mode: fs.ModeDir | 0o755})
	for _, d := range []string{"etc", "etc/sbx", "root", "usr", "usr/lib", "var", "big"} {
		add(ext4img.Entry{Path: d, Mode: fs.ModeDir | 0o755})
	}
	add(ext4img.Entry{Path: "etc/hostname", Mode: 0o644, Size: 8, Content: ext4tree.PatternContent(1, 8)})
	add(ext4img.Entry{Path: "etc/passwd", Mode: 0o644, Size: 5000, Content: ext4tree.PatternContent(2, 5000)})
	add(ext4img.Entry{Path: "usr/lib/libc.so", Mode: 0o755, Size: 30000, Content: ext4tree.PatternContent(3, 30000),
		Xattrs: map[string][]byte{"user.big": []byte(strings.Repeat("x", 600))}})
	add(ext4img.Entry{Path: "usr/lib/libd.so", Mode: 0o755, Xattrs: map[string][]byte{"user.big": []byte(strings.Repeat("x", 600))}})
	add(ext4img.Entry{Path: "var/run", Mode: fs.ModeSymlink | 0o777, Linkname: "../etc/sbx"})
	add(ext4img.Entry{Path: "var/out", Mode: fs.ModeSymlink | 0o777, Linkname: "../../../host"})
	add(ext4img.Entry{Path: "var/slow", Mode: fs.ModeSymlink | 0o777, Linkname: strings.Repeat("s/", 50)})
	add(ext4img.Entry{Path: "var/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Devmajor: 1, Devminor: 3})
	for i := range bigDir {
		add(ext4img.Entry{Path: fmt.Sprintf("big/file-%04d-%s", i, strings.Repeat("n", i%40)), Mode: 0o644,
			Size: int64(i % 3), Content: ext4tree.PatternContent(uint64(i), int64(i%3))})
	}
	tr.Links = append(tr.Links, ext4check.Link{Path: "etc/passwd-link", Target: "etc/passwd"},
		ext4check.Link{Path: "root/hard", Target: "etc/passwd"})
	return tr
}

// writerKind is an image ext4img writes of smallTree.
func writerKind(name string, bs int, csum, noJournal bool) imageKind {
	return writerKindHeadroom(name, bs, csum, noJournal, 2<<20)
}

// writerKindHeadroom is writerKind with headroom bytes free.
func writerKindHeadroom(name string, bs int, csum, noJournal bool, headroom int64) imageKind {
	return imageKind{name: name, make: func(t testing.TB, dir string) string {
		w := ext4img.NewWriter(ext4img.Options{BlockSize: bs, MetadataCsum: csum, NoJournal: noJournal,
			HeadroomBlocks: headroom / int64(max(bs, 1024)), HeadroomInodes: 512, Time: ext4tree.ModTime})
		if err := smallTree(300).AddTo(w); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".img")
		if err := w.WriteFile(p, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}}
}

// mke2fsKind is an image mke2fs -t ext4 -d makes of smallTree (Debian's
// defaults: 64bit, metadata_csum, resize_inode, signed hash).
func mke2fsKind(name string, bs int) imageKind {
	return imageKind{name: name, mke2fs: true, make: func(t testing.TB, dir string) string {
		src := filepath.Join(dir, "src")
		writeHostTree(t, src)
		p := filepath.Join(dir, name+".img")
		c := exec.Command(testenv.Tool(t, "mke2fs"), "-q", "-F", "-t", "ext4", "-b", fmt.Sprint(bs), "-N", "1024",
			"-d", src, p, "12M")
		c.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("mke2fs: %v\n%s", err, out)
		}
		return p
	}}
}

// writeHostTree writes smallTree's shape as host files for mke2fs -d
// (no device: the tests may not run as root).
func writeHostTree(t testing.TB, dir string) {
	for _, d := range []string{"etc/sbx", "root", "usr/lib", "var", "big"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, n int) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(strings.Repeat("c", n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/hostname", 8)
	write("etc/passwd", 5000)
	write("usr/lib/libc.so", 30000)
	for i := range 300 {
		write(fmt.Sprintf("big/file-%04d-%s", i, strings.Repeat("n", i%40)), i%3)
	}
	for _, l := range [][2]string{{"var/run", "../etc/sbx"}, {"var/out", "../../../host"}, {"var/slow", strings.Repeat("s/", 50)}} {
		if err := os.Symlink(l[1], filepath.Join(dir, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(dir, "etc/passwd"), filepath.Join(dir, "root/hard")); err != nil {
		t.Fatal(err)
	}
}

var kinds = []imageKind{
	writerKind("ext4img-4k-csum", 4096, true, false),
	writerKind("ext4img-4k", 4096, false, false),
	writerKind("ext4img-1k-csum", 1024, true, false),
	writerKind("ext4img-1k", 1024, false, false),
	mke2fsKind("mke2fs-4k", 4096),
	mke2fsKind("mke2fs-1k", 1024),
	journalCsumKind(mke2fsKind("mke2fs-4k-jcsum", 4096)),
}

// journalCsumKind gives k's image a journal with 64bit and v3 checksums,
// as a kernel mount leaves one of a metadata_csum filesystem, through
// debugfs's journal_open -c.
func journalCsumKind(k imageKind) imageKind {
	mk := k.make
	k.make = func(t testing.TB, dir string) string {
		p := mk(t, dir)
		c := exec.Command(testenv.Tool(t, "debugfs"), "-w", "-f", "-", p)
		c.Stdin = strings.NewReader("jo -c\njc\n")
		if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "csum v3") {
			t.Fatalf("debugfs jo -c: %v\n%s", err, out)
		}
		return p
	}
	return k
}

// model is the tree an image should hold, as ext4check manifests it, with
// hard links tracked by an inode identity per path.
type model struct {
	m  ext4check.Manifest
	id map[string]string // path → identity shared by its hard links
}

func newModel(m ext4check.Manifest) *model {
	md := &model{m: m, id: map[string]string{}}
	for p, n := range m {
		md.id[p] = p
		if n.LinkGroup != "" {
			md.id[p] = n.LinkGroup
		}
	}
	return md
}

func (md *model) clone() *model {
	c := &model{m: ext4check.Manifest{}, id: map[string]string{}}
	for p, n := range md.m {
		x := *n
		c.m[p] = &x
	}
	for p, i := range md.id {
		c.id[p] = i
	}
	return c
}

// put is Image.Put on the model: missing parents made, the parent's
// mtime set when an entry is added, hard links of a replaced file
// changed with it.
func (md *model) put(p string, data []byte, perm fs.FileMode, uid, gid uint32, mtime time.Time) {
	sum := sha256.Sum256(data)
	parts := strings.Split(strings.Trim(p, "/"), "/")
	dir := "/"
	for _, c := range parts[:len(parts)-1] {
		child := strings.TrimSuffix(dir, "/") + "/" + c
		if md.m[child] == nil {
			md.m[dir].Mtime, md.m[dir].MtimeNsec = patchTime.Unix(), 0
			md.m[child] = &ext4check.Node{Type: 'd', Perm: 0o755, Mtime: mtime.Unix(), MtimeNsec: int64(mtime.Nanosecond())}
			md.id[child] = child
		}
		dir = child
	}
	node := func(n *ext4check.Node) {
		n.Type, n.Perm, n.UID, n.GID = 'f', unixmode.EncodePerm(perm), uid, gid
		n.Mtime, n.MtimeNsec, n.Size, n.SHA256, n.Target = mtime.Unix(), int64(mtime.Nanosecond()), int64(len(data)), hex.EncodeToString(sum[:]), ""
	}
	if old := md.m[p]; old != nil && old.Type == 'f' {
		for q, id := range md.id {
			if id == md.id[p] {
				node(md.m[q])
			}
		}
		return
	}
	md.m[dir].Mtime, md.m[dir].MtimeNsec = patchTime.Unix(), 0
	n := &ext4check.Node{Xattrs: map[string]string{}}
	node(n)
	md.m[p] = n
	md.id[p] = p
}

func (md *model) remove(p string) {
	delete(md.m, p)
	delete(md.id, p)
	parent := filepath.Dir(p)
	md.m[parent].Mtime, md.m[parent].MtimeNsec = patchTime.Unix(), 0
}

// manifest is the model with link counts and groups as debugfs reports
// them.
func (md *model) manifest() ext4check.Manifest {
	groups := map[string][]string{}
	for p, id := range md.id {
		if md.m[p].Type != 'd' {
			groups[id] = append(groups[id], p)
		}
	}
	for _, ps := range groups {
		slices.Sort(ps)
		for _, p := range ps {
			md.m[p].Nlink = uint32(len(ps))
			md.m[p].LinkGroup = ""
			if len(ps) > 1 {
				md.m[p].LinkGroup = ps[0]
			}
		}
	}
	return md.m
}

// crashFile is the image in memory behind the patcher: it takes writes
// in units of crashUnit bytes (a write of several is several, in order)
// and fails every unit after the first budget ones, as a crash would
// stop the disk; the bytes stay as the units written left them.
type crashFile struct {
	b      []byte
	budget int // units left; negative: unlimited
	writes int // units written
}

const crashUnit = 4096

func (c *crashFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(c.b)) {
		return 0, fmt.Errorf("read past the end")
	}
	n := copy(p, c.b[off:])
	if n < len(p) {
		return n, fmt.Errorf("short read")
	}
	return n, nil
}

func (c *crashFile) WriteAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		if c.budget == 0 {
			return n, errCrash
		}
		if c.budget > 0 {
			c.budget--
		}
		c.writes++
		n += copy(c.b[off+int64(n):], p[n:min(len(p), n+crashUnit)])
	}
	return n, nil
}

// Truncate is one unit, as a crash stops it whole or not at all.
func (c *crashFile) Truncate(size int64) error {
	if c.budget == 0 {
		return errCrash
	}
	if c.budget > 0 {
		c.budget--
	}
	c.writes++
	if size <= int64(len(c.b)) {
		c.b = c.b[:size]
	} else {
		c.b = append(c.b, make([]byte, size-int64(len(c.b)))...)
	}
	return nil
}

func (c *crashFile) Sync() error {
	if c.budget == 0 {
		return errCrash
	}
	return nil
}

var errCrash = fmt.Errorf("crashed")

func fsPerm(p uint32) fs.FileMode { return unixmode.DecodePerm(p) }

// openWithModel makes an image of kind k, opens it for patching (closed
// at the test's end) and returns it with the model of its tree.
func openWithModel(t *testing.T, k imageKind) (string, *Image, *model) {
	t.Helper()
	img := k.make(t, t.TempDir())
	base, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	im, err := Open(img, Options{Time: patchTime})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return img, im, newModel(base)
}

// baseImage makes an image of kind k in a new directory and returns the
// directory, the image's bytes and its tree as debugfs reads it.
func baseImage(t *testing.T, k imageKind) (string, []byte, ext4check.Manifest) {
	t.Helper()
	dir := t.TempDir()
	p := k.make(t, dir)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ext4check.ReadImage(t, p)
	if err != nil {
		t.Fatal(err)
	}
	return dir, b, m
}
