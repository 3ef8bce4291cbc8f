package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

var lsTime = time.Date(2024, 2, 29, 12, 34, 56, 0, time.UTC)

// lsTree is a small tree of every entry kind, with symlinks that lead
// through the image in each way a lookup can go.
func lsTree() []ext4img.Entry {
	file := func(p string, mode fs.FileMode, uid, gid uint32, data string) ext4img.Entry {
		return ext4img.Entry{Path: p, Mode: mode, UID: uid, GID: gid, ModTime: lsTime, Size: int64(len(data)),
			Content: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }}
	}
	dir := func(p string, mode fs.FileMode) ext4img.Entry {
		return ext4img.Entry{Path: p, Mode: fs.ModeDir | mode, ModTime: lsTime}
	}
	link := func(p, target string) ext4img.Entry {
		return ext4img.Entry{Path: p, Mode: fs.ModeSymlink | 0o777, ModTime: lsTime, Linkname: target}
	}
	big := strings.Repeat("0123456789abcdef", 70000) // > 1 MiB: several blocks
	return []ext4img.Entry{
		dir("", 0o755),
		dir("etc", 0o755),
		file("etc/os-release", 0o644, 0, 0, "NAME=\"Alpine Linux\"\nID=alpine\n"),
		file("etc/shadow", 0o640, 0, 42, "root:*::0:::::\n"),
		file("etc/big", 0o600, 1000, 1001, big),
		dir("bin", 0o755),
		file("bin/busybox", fs.ModeSetuid|0o755, 0, 0, "\x7fELF"),
		link("bin/sh", "busybox"),
		link("bin/abs", "/etc/os-release"),
		link("bin/up", "../etc/os-release"),
		link("bin/chain", "up"),
		link("bin/etcdir", "/etc"),
		link("bin/loop1", "loop2"),
		link("bin/loop2", "loop1"),
		link("bin/dangling", "/nowhere"),
		link("bin/"+strings.Repeat("l", 10), strings.Repeat("../", 30)+"etc/os-release"),
		dir("dev", 0o755),
		{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, ModTime: lsTime, Devmajor: 1, Devminor: 3},
		{Path: "dev/vda", Mode: fs.ModeDevice | 0o660, GID: 6, ModTime: lsTime, Devmajor: 254, Devminor: 70000},
		{Path: "dev/fifo", Mode: fs.ModeNamedPipe | 0o644, ModTime: lsTime},
		dir("tmp", fs.ModeSticky|0o777),
		file("tmp/odd\tname", 0o644, 0, 0, ""),
	}
}

// lsImage writes lsTree to an image and returns its path.
func lsImage(t *testing.T, opts ext4img.Options) (string, []ext4img.Entry) {
	t.Helper()
	entries := lsTree()
	w := ext4img.NewWriter(opts)
	for _, e := range entries {
		if err := w.Add(e); err != nil {
			t.Fatalf("Add(%q): %v", e.Path, err)
		}
	}
	if err := w.Link("etc/shadow", "etc/shadow-"); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(testenv.WorldDir(t), "img")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	return img, entries
}

// runApp runs the CLI in this process and returns stdout and the error.
func runApp(args ...string) (string, error) {
	var out bytes.Buffer
	app := newApp(time.Now())
	app.Writer, app.ErrWriter = &out, io.Discard
	err := app.Run(append([]string{"rootfs-synth"}, args...))
	return out.String(), err
}

func TestLsLines(t *testing.T) {
	img, _ := lsImage(t, ext4img.Options{Time: lsTime, BlockSize: 1024, NoJournal: true})
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ls", img, "/etc"}, "" +
			"-rw------- 1 1000 1001 1120000 2024-02-29 12:34 big\n" +
			"-rw-r--r-- 1    0    0      30 2024-02-29 12:34 os-release\n" +
			"-rw-r----- 2    0   42      15 2024-02-29 12:34 shadow\n" +
			"-rw-r----- 2    0   42      15 2024-02-29 12:34 shadow-\n"},
		{[]string{"ls", img, "/dev"}, "" +
			"prw-r--r-- 1 0 0          0 2024-02-29 12:34 fifo\n" +
			"crw-rw-rw- 1 0 0       1, 3 2024-02-29 12:34 null\n" +
			"brw-rw---- 1 0 6 254, 70000 2024-02-29 12:34 vda\n"},
		{[]string{"ls", img, "bin/sh"}, "lrwxrwxrwx 1 0 0 7 2024-02-29 12:34 /bin/sh -> busybox\n"},
		{[]string{"ls", img, "/bin/busybox"}, "-rwsr-xr-x 1 0 0 4 2024-02-29 12:34 /bin/busybox\n"},
		{[]string{"ls", img, "/bin/etcdir/os-release"}, "-rw-r--r-- 1 0 0 30 2024-02-29 12:34 /bin/etcdir/os-release\n"},
		{[]string{"ls", img, "/tmp"}, "-rw-r--r-- 1 0 0 0 2024-02-29 12:34 \"odd\\tname\"\n"},
		{[]string{"ls", img, "/"}, "" +
			"drwxr-xr-x 2 0 0  1024 2024-02-29 12:34 bin\n" +
			"drwxr-xr-x 2 0 0  1024 2024-02-29 12:34 dev\n" +
			"drwxr-xr-x 2 0 0  1024 2024-02-29 12:34 etc\n" +
			"drwx------ 2 0 0 16384 2024-02-29 12:34 lost+found\n" +
			"drwxrwxrwt 2 0 0  1024 2024-02-29 12:34 tmp\n"},
		{[]string{"ls", img, "/bin/etcdir/"}, "" +
			"-rw------- 1 1000 1001 1120000 2024-02-29 12:34 big\n" +
			"-rw-r--r-- 1    0    0      30 2024-02-29 12:34 os-release\n" +
			"-rw-r----- 2    0   42      15 2024-02-29 12:34 shadow\n" +
			"-rw-r----- 2    0   42      15 2024-02-29 12:34 shadow-\n"},
		{[]string{"ls", img, "/bin/etcdir/../dev/null"}, "crw-rw-rw- 1 0 0 1, 3 2024-02-29 12:34 /bin/etcdir/../dev/null\n"},
	}
	for _, tt := range tests {
		got, err := runApp(tt.args...)
		if err != nil || got != tt.want {
			t.Errorf("rootfs-synth %s = %q, %v; want %q", strings.Join(tt.args[2:], " "), got, err, tt.want)
		}
	}
}

// lsLine is one parsed line of ls output.
type lsLine struct {
	mode, nlink, uid, gid, size, mtime, name, target string
}

// parseLsR splits `ls -R` output into lines by absolute path.
func parseLsR(t *testing.T, out string) map[string]lsLine {
	t.Helper()
	got := map[string]lsLine{}
	dir := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			continue
		case strings.HasSuffix(line, ":") && !strings.Contains(line, " "):
			dir = strings.TrimSuffix(strings.TrimSuffix(line, ":"), "/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 8 {
			t.Fatalf("ls line %q has %d fields", line, len(f))
		}
		l := lsLine{mode: f[0], nlink: f[1], uid: f[2], gid: f[3], size: f[4]}
		rest := f[5:]
		if strings.HasSuffix(f[4], ",") {
			l.size, rest = f[4]+f[5], f[6:]
		}
		l.mtime = rest[0] + " " + rest[1]
		l.name = strings.Join(rest[2:], " ")
		if i := strings.Index(l.name, " -> "); i >= 0 {
			l.name, l.target = l.name[:i], l.name[i+4:]
		}
		for _, s := range []*string{&l.name, &l.target} {
			if strings.HasPrefix(*s, `"`) {
				u, err := strconv.Unquote(*s)
				if err != nil {
					t.Fatalf("ls line %q: unquoting %s: %v", line, *s, err)
				}
				*s = u
			}
		}
		got[dir+"/"+l.name] = l
	}
	return got
}

// modeOf is the ls mode string debugfs's view of a node must print.
func modeOf(n *ext4check.Node) string {
	m := fs.FileMode(n.Perm & 0o777)
	for bit, v := range map[uint32]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
		if n.Perm&bit != 0 {
			m |= v
		}
	}
	m |= map[byte]fs.FileMode{'d': fs.ModeDir, 'l': fs.ModeSymlink, 'c': fs.ModeDevice | fs.ModeCharDevice,
		'b': fs.ModeDevice, 'p': fs.ModeNamedPipe, 's': fs.ModeSocket}[n.Type]
	return modeString(m)
}

// TestLsRecursiveAgreesWithDebugfs: every path debugfs finds in the image,
// `ls -R` prints once, with the mode, owner, size or device numbers,
// mtime, link count and symlink target debugfs reports (1 KiB and 4 KiB
// blocks, with and without metadata_csum), and nothing else.
func TestLsRecursiveAgreesWithDebugfs(t *testing.T) {
	for _, opts := range []ext4img.Options{
		{Time: lsTime},
		{Time: lsTime, BlockSize: 1024, MetadataCsum: true, NoJournal: true},
	} {
		bs := max(opts.BlockSize, 1024)
		if opts.BlockSize == 0 {
			bs = 4096
		}
		t.Run(fmt.Sprintf("bs=%d,csum=%v", bs, opts.MetadataCsum), func(t *testing.T) {
			img, _ := lsImage(t, opts)
			checkLsR(t, img)
		})
	}
}

// checkLsR fails the test unless `ls -R` of img prints every path
// debugfs sees, once, with debugfs's mode, owner, size or device numbers,
// mtime, link count and symlink target, and nothing else.
func checkLsR(t *testing.T, img string) {
	t.Helper()
	out, err := runApp("ls", "-R", img)
	if err != nil {
		t.Fatalf("ls -R: %v", err)
	}
	got := parseLsR(t, out)
	want, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	delete(want, "/")
	for p, n := range want {
		l, ok := got[p]
		if !ok {
			t.Errorf("ls -R lacks %s", p)
			continue
		}
		delete(got, p)
		w := lsLine{mode: modeOf(n), nlink: l.nlink, uid: strconv.Itoa(int(n.UID)), gid: strconv.Itoa(int(n.GID)),
			size: l.size, mtime: time.Unix(n.Mtime, 0).UTC().Format("2006-01-02 15:04"), name: l.name, target: n.Target}
		switch n.Type {
		case 'f':
			w.size = strconv.FormatInt(n.Size, 10)
		case 'c', 'b':
			w.size = fmt.Sprintf("%d,%d", n.Major, n.Minor)
		}
		if n.Type != 'd' {
			w.nlink = strconv.Itoa(int(n.Nlink))
		}
		if l != w {
			t.Errorf("ls -R line of %s = %+v, want (debugfs) %+v", p, l, w)
		}
	}
	for p := range got {
		t.Errorf("ls -R prints %s, which debugfs does not see", p)
	}
}

// TestCat: every regular file's bytes come out unchanged, also through
// each kind of symlink; what has no content is an error.
func TestCat(t *testing.T) {
	img, entries := lsImage(t, ext4img.Options{Time: lsTime, BlockSize: 1024, MetadataCsum: true})
	content := map[string]string{}
	for _, e := range entries {
		if e.Mode.IsRegular() {
			rc, _ := e.Content()
			b, _ := io.ReadAll(rc)
			content["/"+e.Path] = string(b)
		}
	}
	for p, want := range content {
		if got, err := runApp("cat", img, p); err != nil || got != want {
			t.Errorf("cat %s = %d bytes (sha256 %s), %v; want %d bytes (sha256 %s)", p, len(got), sum(got), err, len(want), sum(want))
		}
	}
	osRelease := content["/etc/os-release"]
	for _, tt := range []struct {
		path, want, wantErr string
	}{
		{"bin/abs", osRelease, ""},
		{"/bin/up", osRelease, ""},
		{"/bin/chain", osRelease, ""},
		{"/bin/etcdir/os-release", osRelease, ""},
		{"/bin/etcdir/../bin/abs", osRelease, ""},
		{"/bin/llllllllll", osRelease, ""}, // ../ past the root stays at the root
		{"/bin/sh", "\x7fELF", ""},
		{"/bin/loop1", "", "cat: /bin/loop1 in " + img + ": too many levels of symbolic links"},
		{"/bin/dangling", "", "cat: /bin/dangling in " + img + ": file does not exist"},
		{"/etc/os-release/x", "", "cat: /etc/os-release/x in " + img + ": file does not exist (not a directory)"},
		{"/etc", "", "cat: /etc in " + img + ": is a directory, not a regular file"},
		{"/dev/null", "", "cat: /dev/null in " + img + ": is a character device, not a regular file"},
		{"/dev/fifo", "", "cat: /dev/fifo in " + img + ": is a FIFO, not a regular file"},
	} {
		got, err := runApp("cat", img, tt.path)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("cat %s = %q, error %q; want %q, error %q", tt.path, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}

// runBinary runs the real rootfs-synth as an unprivileged user.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := testenv.Unprivileged(t, testenv.Binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running rootfs-synth: %v", err)
	}
	return out.String(), errb.String(), code
}

// corruptCopy writes a copy of img with the bytes at off replaced.
func corruptCopy(t *testing.T, img string, off int64, b []byte) string {
	t.Helper()
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	copy(data[off:], b)
	bad := filepath.Join(filepath.Dir(img), fmt.Sprintf("bad-%d", off))
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return bad
}

// blockOf asks debugfs for the first data block of path.
func blockOf(t *testing.T, img, path string) int64 {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", "bmap "+path+" 0", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	b, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("debugfs bmap %s 0 = %q", path, out)
	}
	return b
}

// TestLsCatErrors runs the binary: every failure is one line on stderr
// naming the image and the path, exit status 1 (2 for usage), nothing on
// stdout. Corrupted images (negative controls, located with debugfs) fail
// instead of printing garbage.
func TestLsCatErrors(t *testing.T) {
	img, _ := lsImage(t, ext4img.Options{Time: lsTime, BlockSize: 1024, MetadataCsum: true, NoJournal: true})
	plain, _ := lsImage(t, ext4img.Options{Time: lsTime, BlockSize: 1024, NoJournal: true})
	// /etc's directory block, and the first data block of /etc/big.
	etcBlock := blockOf(t, img, "/etc") * 1024
	etcPlain := blockOf(t, plain, "/etc") * 1024
	notImage := filepath.Join(filepath.Dir(img), "not-an-image")
	if err := os.WriteFile(notImage, bytes.Repeat([]byte("x"), 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{[]string{"ls"}, 2, "rootfs-synth: ls: need IMAGE [PATH]"},
		{[]string{"ls", img, "/", "/etc"}, 2, "rootfs-synth: ls: need IMAGE [PATH]"},
		{[]string{"ls", "--bogus", img}, 2, "rootfs-synth: ls: unknown flag --bogus"},
		{[]string{"cat", img}, 2, "rootfs-synth: cat: need IMAGE PATH"},
		{[]string{"ls", img, "/nosuch"}, 1, "rootfs-synth: ls: /nosuch in " + img + ": file does not exist"},
		{[]string{"cat", img, "/etc/nosuch"}, 1, "rootfs-synth: cat: /etc/nosuch in " + img + ": file does not exist"},
		{[]string{"ls", "/nonexistent/img"}, 1, "rootfs-synth: ls: open /nonexistent/img: no such file or directory"},
		{[]string{"cat", notImage, "/x"}, 1, "rootfs-synth: cat: reading " + notImage + ": reading superblock: magic 0x7878 is not ext2/3/4's 0xef53"},
		// A flipped byte in a checksummed directory block.
		{[]string{"ls", corruptCopy(t, img, etcBlock+20, []byte{'X'}), "/etc"}, 1, "checksum"},
		{[]string{"cat", corruptCopy(t, img, etcBlock+20, []byte{'X'}), "/etc/os-release"}, 1, "checksum"},
		// Without checksums: a record length running past the block.
		{[]string{"ls", corruptCopy(t, plain, etcPlain+4, []byte{0xff, 0x7f}), "/etc"}, 1, "corrupt filesystem: directory inode"},
		// The root's inode zeroed: no longer in use.
		{[]string{"ls", corruptCopy(t, plain, inodeOffset(t, plain, 2), make([]byte, 256))}, 1, "corrupt filesystem: inode 2 is not in use"},
	}
	for _, tt := range tests {
		stdout, stderr, code := runBinary(t, tt.args...)
		t.Logf("rootfs-synth %s: exit %d: %s", tt.args[0], code, strings.TrimSpace(stderr))
		if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("rootfs-synth %s = exit %d, stdout %q, stderr %q; want exit %d, no stdout, one line containing %q",
				strings.Join(tt.args, " "), code, stdout, stderr, tt.wantCode, tt.wantStderr)
		}
	}
}

// inodeOffset asks debugfs where inode ino lives in img.
func inodeOffset(t *testing.T, img string, ino int) int64 {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", fmt.Sprintf("imap <%d>", ino), img).Output()
	if err != nil {
		t.Fatal(err)
	}
	// "Inode 2 is part of block group 0\n\tlocated at block 35, offset 0x0100"
	var blk, off int64
	s := string(out)
	i := strings.Index(s, "located at block ")
	if i < 0 {
		t.Fatalf("debugfs imap: %q", s)
	}
	if _, err := fmt.Sscanf(s[i:], "located at block %d, offset 0x%x", &blk, &off); err != nil {
		t.Fatalf("debugfs imap %q: %v", s, err)
	}
	return blk*1024 + off
}

func TestModeString(t *testing.T) {
	for _, tt := range []struct {
		in   fs.FileMode
		want string
	}{
		{0o644, "-rw-r--r--"},
		{fs.ModeDir | 0o755, "drwxr-xr-x"},
		{fs.ModeSymlink | 0o777, "lrwxrwxrwx"},
		{fs.ModeDevice | fs.ModeCharDevice | 0o666, "crw-rw-rw-"},
		{fs.ModeDevice | 0o660, "brw-rw----"},
		{fs.ModeNamedPipe | 0o600, "prw-------"},
		{fs.ModeSocket | 0o755, "srwxr-xr-x"},
		{fs.ModeSetuid | 0o755, "-rwsr-xr-x"},
		{fs.ModeSetuid | 0o644, "-rwSr--r--"},
		{fs.ModeSetgid | 0o755, "-rwxr-sr-x"},
		{fs.ModeSetgid | 0o644, "-rw-r-Sr--"},
		{fs.ModeDir | fs.ModeSticky | 0o777, "drwxrwxrwt"},
		{fs.ModeDir | fs.ModeSticky | 0o776, "drwxrwxrwT"},
		{fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky, "---S--S--T"},
	} {
		if got := modeString(tt.in); got != tt.want {
			t.Errorf("modeString(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestQuoteName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"busybox", "busybox"},
		{"with space", "with space"},
		{"ünïcødé ☃", "ünïcødé ☃"},
		{"new\nline", `"new\nline"`},
		{"tab\t", `"tab\t"`},
		{"quote\"", `"quote\""`},
		{"bad\xff", `"bad\xff"`},
		{"del\x7f", `"del\x7f"`},
	} {
		if got := quoteName(tt.in); got != tt.want {
			t.Errorf("quoteName(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
