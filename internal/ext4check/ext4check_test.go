//go:build linux

package ext4check

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// makeTree writes testenv.HostTree without /usr/bin/sh-link: mke2fs 1.47.0
// -d, which makes the reference images here, copies a hard link to a
// symlink as a second symlink.
func makeTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	testenv.HostTree(t, dir)
	if err := os.Remove(filepath.Join(dir, "usr/bin/sh-link")); err != nil {
		t.Fatal(err)
	}
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
	if err := e2fsck.Check(t, img); err != nil {
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
		{"/etc/hostname", func(n *Node) bool {
			return n.Xattrs["user.note"] == "hello" && n.Mtime == testenv.HostTreeTime.Unix()
		}, "xattr and mtime"},
		{"/usr/bin/su", func(n *Node) bool { return n.LinkGroup == "/usr/bin/busybox" && n.Nlink == 2 }, "hard-link group"},
		{"/usr/bin/busybox", func(n *Node) bool { return n.Size == 1300000 && n.Perm == 0o4755 }, "size and setuid bit"},
		{"/etc/apk/world", func(n *Node) bool { return len(n.Xattrs["user.big"]) == 800 }, "large xattr"},
		{"/usr/bin/slow", func(n *Node) bool { return strings.HasSuffix(n.Target, "../usr/bin/busybox") }, "slow symlink target"},
		{"/usr/bin/sh", func(n *Node) bool { return n.Target == "/usr/bin/busybox" }, "fast symlink target"},
		{"/var", func(n *Node) bool { return n.Perm == 0o2755 }, "setgid bit"},
		{"/tmp", func(n *Node) bool { return n.Perm == 0o1777 }, "sticky bit"},
	}
	if os.Geteuid() == 0 {
		checks = append(checks,
			struct {
				path string
				ok   func(*Node) bool
				what string
			}{"/dev/vda", func(n *Node) bool { return n.Type == 'b' && n.Major == 254 && n.Minor == 0 }, "block device"},
			struct {
				path string
				ok   func(*Node) bool
				what string
			}{"/etc/apk", func(n *Node) bool { return n.UID == 4000000000 && n.GID == 4000000001 }, "32-bit owner"})
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
		{"flipped data byte", func(t *testing.T, img string) { flipDataByte(t, img, "/usr/bin/busybox") }, "/usr/bin/busybox: sha256 = "},
		{"changed mode", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /etc/hostname mode 0100600") }, "/etc/hostname: mode = 0600, want 0644"},
		{"changed uid", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /empty uid 1234") }, "/empty: uid = 1234, want "},
		{"changed gid", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /empty gid 77") }, "/empty: gid = 77, want "},
		{"changed mtime", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /etc/hostname mtime 200001010000") }, "/etc/hostname: mtime = 946684800, want 1623053350"},
		{"missing xattr", func(t *testing.T, img string) { debugfsWrite(t, img, "ea_rm /etc/hostname user.note") }, "/etc/hostname: xattr user.note missing"},
		{"changed xattr", func(t *testing.T, img string) { debugfsWrite(t, img, "ea_set /etc/hostname user.note other") }, `/etc/hostname: xattr user.note = "other", want "hello"`},
		{"extra xattr", func(t *testing.T, img string) { debugfsWrite(t, img, "ea_set /empty user.new v") }, `/empty: xattr user.new unexpected ("v")`},
		{"removed name", func(t *testing.T, img string) { debugfsWrite(t, img, "unlink /var/fifo") }, "/var/fifo: missing FIFO"},
		{"broken hard link", func(t *testing.T, img string) { debugfsWrite(t, img, "unlink /usr/bin/su") }, "/usr/bin/su: missing regular file"},
		{"changed type", func(t *testing.T, img string) { debugfsWrite(t, img, "sif /var/fifo mode 0140644") }, "/var/fifo: type = socket, want FIFO"},
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
	for name, fsck := range map[string]func(testing.TB, string) error{"Check": e2fsck.Check, "CheckInPlace": e2fsck.CheckInPlace} {
		if err := fsck(t, good); err != nil {
			t.Fatalf("%s(mke2fs image) = %v", name, err)
		}
	}
	tests := []struct {
		name string
		req  string
	}{
		{"wrong link count", "sif /etc/hostname links_count 5"},
		{"unreferenced inode", "unlink /empty"},
		{"wrong free count", "ssv free_blocks_count 3"},
		// e2fsck -fn says nothing and e2fsck -fy exits 0 after restoring
		// the backup: only its "FILE SYSTEM WAS MODIFIED" tells.
		{"journal backup stale", "ssv jnl_blocks[0] 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, fsck := range map[string]func(testing.TB, string) error{"Check": e2fsck.Check, "CheckInPlace": e2fsck.CheckInPlace} {
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
