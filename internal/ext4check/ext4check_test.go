//go:build linux

package ext4check

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// makeTree writes a host tree with every kind of entry this user may make:
// devices, foreign owners and security.capability only as root.
func makeTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	root := os.Geteuid() == 0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "d/sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "f"), []byte("hello, ext4\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "d/big"), []byte(strings.Repeat("0123456789abcdef", 20000)), 0o600))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o640))
	must(os.WriteFile(filepath.Join(dir, "suid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chmod(filepath.Join(dir, "suid"), 0o755|os.ModeSetuid|os.ModeSetgid))
	must(os.Mkdir(filepath.Join(dir, "tmp"), 0o777))
	must(os.Chmod(filepath.Join(dir, "tmp"), 0o777|os.ModeSticky))
	must(os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "d/sub/hardlink")))
	must(os.Symlink("f", filepath.Join(dir, "fast")))
	must(os.Symlink(strings.Repeat("long/", 30)+"target", filepath.Join(dir, "slow")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "名前-é"), []byte("utf-8"), 0o644))
	must(hostfs.SetXattr(filepath.Join(dir, "f"), "user.comment", []byte("a comment")))
	must(hostfs.SetXattr(filepath.Join(dir, "d/big"), "user.big", []byte(strings.Repeat("x\x00\xff", 400))))
	if root {
		must(syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, 1<<8|3))
		must(syscall.Mknod(filepath.Join(dir, "nvme"), syscall.S_IFBLK|0o660, 259<<8|7))
		must(os.Lchown(filepath.Join(dir, "d"), 4000000000, 3000000000))
		must(os.Lchown(filepath.Join(dir, "fast"), 1000, 1001))
		must(hostfs.SetXattr(filepath.Join(dir, "suid"), "security.capability",
			[]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}))
	}
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(dir, "f"), past, past))
	return dir
}

// mke2fsImage builds the reference image of dir with mke2fs -d, which the
// checker must accept as it accepts ours.
func mke2fsImage(t *testing.T, dir string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "ref.img")
	c := exec.Command(testenv.Tool(t, "mke2fs"), "-q", "-F", "-t", "ext4", "-b", "4096", "-d", dir, img, "32M")
	c.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
	return img
}

// mke2fs 1.47.0 copies neither the root directory's attributes nor
// sub-second mtimes.
var mke2fsOpts = Options{NoRootAttrs: true, NoMtimeNsec: true}

func TestMke2fsImageMatchesTree(t *testing.T) {
	dir := makeTree(t)
	img := mke2fsImage(t, dir)
	if err := Fsck(t, img); err != nil {
		t.Fatal(err)
	}
	want, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := Compare(want, got, mke2fsOpts); len(diffs) > 0 {
		t.Errorf("Compare(tree, mke2fs image) found %d differences:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	// The manifest must really have read what it compares.
	checks := []struct {
		path string
		ok   func(*Node) bool
		what string
	}{
		{"/f", func(n *Node) bool { return n.Xattrs["user.comment"] == "a comment" && n.Mtime == 1577934245 }, "xattr and mtime"},
		{"/d/sub/hardlink", func(n *Node) bool { return n.LinkGroup == "/d/sub/hardlink" && n.Nlink == 2 }, "hard-link group"},
		{"/d/big", func(n *Node) bool { return n.Size == 320000 && len(n.Xattrs["user.big"]) == 1200 }, "size and large xattr"},
		{"/slow", func(n *Node) bool { return strings.HasSuffix(n.Target, "long/target") }, "slow symlink target"},
		{"/fast", func(n *Node) bool { return n.Target == "f" }, "fast symlink target"},
		{"/suid", func(n *Node) bool { return n.Perm == 0o6755 }, "setuid and setgid bits"},
		{"/tmp", func(n *Node) bool { return n.Perm == 0o1777 }, "sticky bit"},
	}
	if os.Geteuid() == 0 {
		checks = append(checks,
			struct {
				path string
				ok   func(*Node) bool
				what string
			}{"/nvme", func(n *Node) bool { return n.Type == 'b' && n.Major == 259 && n.Minor == 7 }, "block device"},
			struct {
				path string
				ok   func(*Node) bool
				what string
			}{"/d", func(n *Node) bool { return n.UID == 4000000000 && n.GID == 3000000000 }, "32-bit owner"})
	}
	for _, c := range checks {
		if n := got[c.path]; n == nil || !c.ok(n) {
			t.Errorf("ReadImage: %s: %s not read back: %+v", c.path, c.what, n)
		}
	}
}

// debugfsWrite changes the image with debugfs -w.
func debugfsWrite(t *testing.T, img string, req string) {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-w", "-R", req, img).CombinedOutput()
	if err != nil || strings.Count(string(out), "\n") > 1 {
		t.Fatalf("debugfs -w -R %q: %v\n%s", req, err, out)
	}
}

// flipDataByte inverts the first byte of a file's first data block.
func flipDataByte(t *testing.T, img, file string) {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", "bmap "+file+" 0", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	blk, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("bmap %s: %q", file, out)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, blk*4096); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, blk*4096); err != nil {
		t.Fatal(err)
	}
}

// TestCompareCatchesChanges proves the checker can fail: each change made
// to a good image must be reported as exactly the expected difference.
func TestCompareCatchesChanges(t *testing.T) {
	dir := makeTree(t)
	want, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	good := mke2fsImage(t, dir)
	tests := []struct {
		name   string
		change func(t *testing.T, img string)
		want   string
	}{
		{"flipped data byte", func(t *testing.T, img string) { flipDataByte(t, img, "/d/big") }, "/d/big: sha256 = "},
		{"changed mode", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /f mode 0100600") }, "/f: mode = 0600, want 0644"},
		{"changed uid", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /empty uid 1234") }, "/empty: uid = 1234, want "},
		{"changed gid", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /empty gid 77") }, "/empty: gid = 77, want "},
		{"changed mtime", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /f mtime 200001010000") }, "/f: mtime = 946684800, want 1577934245"},
		{"missing xattr", func(t *testing.T, img string) { debugfsWrite(t, img, "ea_rm /f user.comment") }, "/f: xattr user.comment missing"},
		{"changed xattr", func(t *testing.T, img string) { debugfsWrite(t, img, "ea_set /f user.comment other") }, `/f: xattr user.comment = "other", want "a comment"`},
		{"extra xattr", func(t *testing.T, img string) { debugfsWrite(t, img, "ea_set /empty user.new v") }, `/empty: xattr user.new unexpected ("v")`},
		{"removed name", func(t *testing.T, img string) { debugfsWrite(t, img, "unlink /fifo") }, "/fifo: missing FIFO"},
		{"broken hard link", func(t *testing.T, img string) { debugfsWrite(t, img, "unlink /d/sub/hardlink") }, "/d/sub/hardlink: missing regular file"},
		{"changed type", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /fifo mode 0140644") }, "/fifo: type = socket, want FIFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "changed.img")
			if err := e2fsck.CopySparse(img, good); err != nil {
				t.Fatal(err)
			}
			tt.change(t, img)
			got, err := ReadImage(t, img)
			if err != nil {
				t.Fatal(err)
			}
			diffs := Compare(want, got, mke2fsOpts)
			found := false
			for _, d := range diffs {
				found = found || strings.HasPrefix(d, tt.want)
			}
			if !found {
				t.Errorf("Compare after %s = %q, want a line starting %q", tt.name, diffs, tt.want)
			}
		})
	}
}

func TestFsckCatchesCorruption(t *testing.T) {
	good := mke2fsImage(t, makeTree(t))
	for name, fsck := range map[string]func(testing.TB, string) error{"Fsck": Fsck, "FsckInPlace": FsckInPlace} {
		if err := fsck(t, good); err != nil {
			t.Fatalf("%s(mke2fs image) = %v", name, err)
		}
	}
	tests := []struct {
		name string
		req  string
	}{
		{"wrong link count", "sif /f links_count 5"},
		{"unreferenced inode", "unlink /empty"},
		{"wrong free count", "ssv free_blocks_count 3"},
		// e2fsck -fn says nothing and e2fsck -fy exits 0 after restoring
		// the backup: only its "FILE SYSTEM WAS MODIFIED" tells.
		{"journal backup stale", "ssv jnl_blocks[0] 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, fsck := range map[string]func(testing.TB, string) error{"Fsck": Fsck, "FsckInPlace": FsckInPlace} {
				img := filepath.Join(t.TempDir(), "bad.img")
				if err := e2fsck.CopySparse(img, good); err != nil {
					t.Fatal(err)
				}
				debugfsWrite(t, img, tt.req)
				if err := fsck(t, img); err == nil {
					t.Errorf("%s after %q = nil, want an error", name, tt.req)
				}
			}
		})
	}
}
