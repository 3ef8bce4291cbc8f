//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// patchBase writes a small image with a journal: /etc, /etc/sbx, /root
// (0700), /etc/hostname, /etc/issue and /var/out, a symlink that climbs
// out of the image.
func patchBase(t *testing.T, dir string) string {
	t.Helper()
	w := ext4img.NewWriter(ext4img.Options{Time: lsTime, MetadataCsum: true})
	for _, e := range []ext4img.Entry{
		{Path: "etc", Mode: fs.ModeDir | 0o755},
		{Path: "etc/sbx", Mode: fs.ModeDir | 0o755},
		{Path: "root", Mode: fs.ModeDir | 0o700},
		{Path: "var", Mode: fs.ModeDir | 0o755},
		{Path: "var/out", Mode: fs.ModeSymlink | 0o777, Linkname: "../../../host"},
	} {
		e.ModTime = lsTime
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct{ p, data string }{{"etc/hostname", "base\n"}, {"etc/issue", "Welcome\n"}} {
		p, data := f.p, f.data
		if err := w.Add(ext4img.Entry{Path: p, Mode: 0o644, ModTime: lsTime, Size: int64(len(data)),
			Content: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }}); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "base.ext4")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	return img
}

// runBinary runs the real binary with args and returns its exit status,
// stdout and stderr.
func runAsRoot(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return exitCodeOf(cmd.Run()), stdout.String(), stderr.String()
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha(b)
}

// TestPatchSandbox: the real binary patches keys, hostname, session env
// (from --env-file and --env, a later name winning), a put file with mode
// and owner and a removal, into a clone (-o) and in place. The result is
// e2fsck-clean and debugfs reads back each change with its mode and
// owner; the clone leaves the base byte-identical.
func TestPatchSandbox(t *testing.T) {
	dir := testenv.WorldDir(t)
	base := patchBase(t, dir)
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPatchTest user@host\n"
	motd := "hello, sandbox\n"
	inputs := map[string]string{"key.pub": key, "motd": motd, "env": "# comment\nA=from file\n\nB=1=2\n"}
	for n, data := range inputs {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--authorized-keys", filepath.Join(dir, "key.pub"), "--hostname", "sandbox-1",
		"--env-file", filepath.Join(dir, "env"), "--env", "A=it's $x, `y`", "--env", "C=a,b",
		"--put", "/usr/local/etc/motd=" + filepath.Join(dir, "motd") + ":0640:0:42", "--rm", "/etc/issue"}
	wantEnv := "# /etc/sbx/session-env.sh: the sandbox's session environment, written by\n" +
		"# rootfs-synth patch (one export line per variable, quoted for sh).\n" +
		"export A='it'\\''s $x, `y`'\nexport B='1=2'\nexport C='a,b'\n"
	want := map[string]struct {
		typ      byte
		perm     uint32
		uid, gid uint32
		content  string
	}{
		"/root/.ssh":                 {'d', 0o700, 0, 0, ""},
		"/root/.ssh/authorized_keys": {'f', 0o600, 0, 0, key},
		"/etc/hostname":              {'f', 0o644, 0, 0, "sandbox-1\n"},
		"/etc/sbx/session-env.sh":    {'f', 0o600, 0, 0, wantEnv},
		"/usr/local/etc/motd":        {'f', 0o640, 0, 42, motd},
		"/usr/local":                 {'d', 0o755, 0, 0, ""},
	}
	baseSum := fileSHA(t, base)
	inPlace := filepath.Join(dir, "inplace.ext4")
	if b, err := os.ReadFile(base); err != nil || os.WriteFile(inPlace, b, 0o644) != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(dir, "sandbox.ext4")
	for _, tc := range []struct {
		name, img string
		args      []string
	}{
		{"clone", clone, append([]string{"patch", base, "-o", clone}, args...)},
		{"in place", inPlace, append([]string{"patch", inPlace}, args...)},
	} {
		code, stdout, stderr := runAsRoot(t, tc.args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "4 files put, 1 removed") {
			t.Fatalf("%s: rootfs-synth %s = exit %d, stdout %q, stderr %q; want exit 0, a summary, no stderr", tc.name, strings.Join(tc.args, " "), code, stdout, stderr)
		}
		if err := e2fsck.Check(t, tc.img); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		m, err := ext4check.ReadImage(t, tc.img)
		if err != nil {
			t.Fatal(err)
		}
		for p, w := range want {
			n := m[p]
			if n == nil {
				t.Errorf("%s: %s missing", tc.name, p)
				continue
			}
			if n.Type != w.typ || n.Perm != w.perm || n.UID != w.uid || n.GID != w.gid || w.typ == 'f' && n.SHA256 != sha([]byte(w.content)) {
				t.Errorf("%s: %s = %c %o %d:%d sha %s, want %c %o %d:%d content %q", tc.name, p, n.Type, n.Perm, n.UID, n.GID, n.SHA256, w.typ, w.perm, w.uid, w.gid, w.content)
			}
		}
		if m["/etc/issue"] != nil {
			t.Errorf("%s: /etc/issue still there after --rm", tc.name)
		}
	}
	if got := fileSHA(t, base); got != baseSum {
		t.Errorf("patch -o changed the base image")
	}
	if got, err := runApp("cat", clone, "/etc/sbx/session-env.sh"); err != nil || got != wantEnv {
		t.Errorf("session-env.sh = %q, %v, want %q", got, err, wantEnv)
	}
}

// TestPatchGrow: --grow SIZE, in place and on a clone, with a put in the
// same transaction, gives an e2fsck-clean image whose filesystem (by
// dumpe2fs) and file are SIZE, with the put file there; the base is
// unchanged.
func TestPatchGrow(t *testing.T) {
	dir := testenv.WorldDir(t)
	base := patchBase(t, dir)
	fi, err := os.Stat(base)
	if err != nil {
		t.Fatal(err)
	}
	size := 4 * fi.Size()
	motd := filepath.Join(dir, "motd")
	if err := os.WriteFile(motd, []byte("grown\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	baseSum := fileSHA(t, base)
	inPlace := filepath.Join(dir, "inplace.ext4")
	if b, err := os.ReadFile(base); err != nil || os.WriteFile(inPlace, b, 0o644) != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(dir, "grown.ext4")
	grow := []string{"--grow", strconv.FormatInt(size, 10), "--put", "/etc/motd=" + motd}
	for _, tc := range []struct {
		name, img string
		args      []string
	}{
		{"clone", clone, append([]string{"patch", base, "-o", clone}, grow...)},
		{"in place", inPlace, append([]string{"patch", inPlace}, grow...)},
	} {
		code, stdout, stderr := runAsRoot(t, tc.args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, fmt.Sprintf("grown to %d bytes", size)) {
			t.Fatalf("%s: rootfs-synth %s = exit %d, stdout %q, stderr %q; want exit 0 and a summary", tc.name, strings.Join(tc.args, " "), code, stdout, stderr)
		}
		if err := e2fsck.Check(t, tc.img); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		out, err := exec.Command(testenv.Tool(t, "dumpe2fs"), "-h", tc.img).Output()
		if err != nil {
			t.Fatal(err)
		}
		var blocks, bsize int64
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "Block count:"); ok {
				blocks, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
			if v, ok := strings.CutPrefix(l, "Block size:"); ok {
				bsize, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
		if got, _ := os.Stat(tc.img); got == nil || got.Size() != size || blocks*bsize != size {
			t.Errorf("%s: after --grow %d the file is %v bytes and dumpe2fs says %d blocks of %d", tc.name, size, got.Size(), blocks, bsize)
		}
		if got, err := runApp("cat", tc.img, "/etc/motd"); err != nil || got != "grown\n" {
			t.Errorf("%s: /etc/motd = %q, %v, want the put file", tc.name, got, err)
		}
	}
	if got := fileSHA(t, base); got != baseSum {
		t.Errorf("patch -o --grow changed the base image")
	}
}

// TestPatchRefusals: what the patch must refuse, with the real binary:
// exit 1, one line on stderr naming why, the image byte-identical, and
// with -o no NEW and no temporary file beside it. Controls: the same
// image unchanged patches fine (so each refusal is the setup's doing),
// and --replay gets past a journal needing recovery.
func TestPatchRefusals(t *testing.T) {
	debugfs := testenv.Tool(t, "debugfs")
	setFeature := func(f string) func(t *testing.T, img string) {
		return func(t *testing.T, img string) {
			if out, err := exec.Command(debugfs, "-w", "-R", "feature "+f, img).CombinedOutput(); err != nil {
				t.Fatalf("debugfs feature %s: %v\n%s", f, err, out)
			}
		}
	}
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, img string)
		image func(dir, img string) string // the IMAGE argument; nil: img
		args  []string
		want  string // in the one stderr line; "" for success
		// cloneOK: with -o the IMAGE is only read, and a symlink to a
		// base image is followed.
		cloneOK bool
	}{
		{"control", nil, nil, []string{"--hostname", "h"}, "", false},
		{"unsupported feature", setFeature("casefold"), nil, []string{"--hostname", "h"}, "cannot patch a filesystem with casefold", false},
		{"unknown feature", setFeature("inline_data"), nil, []string{"--hostname", "h"}, "inline_data", false},
		{"journal needs recovery", setFeature("needs_recovery"), nil, []string{"--hostname", "h"}, "journal needs recovery: a VM may have it mounted, or one crashed (replay only when none has it attached); --replay replays it", false},
		{"journal needs recovery, --replay", setFeature("needs_recovery"), nil, []string{"--hostname", "h", "--replay"}, "", false},
		{"symlink out of the image", nil, nil, []string{"--hostname", "h", "--put", "/var/out/x=/etc/hostname"}, "a symlink on the path leads out of the image", false},
		{"IMAGE a FIFO", nil, func(dir, _ string) string {
			p := filepath.Join(dir, "fifo")
			syscall.Mkfifo(p, 0o644)
			return p
		}, []string{"--hostname", "h"}, "a FIFO, not a regular file", false},
		{"IMAGE a directory", nil, func(dir, _ string) string { return dir }, []string{"--hostname", "h"}, "a directory, not a regular file", false},
		{"IMAGE a character device", nil, func(string, string) string { return "/dev/null" }, []string{"--hostname", "h"}, "a character device, not a regular file", false},
		{"IMAGE a symlink", nil, func(dir, img string) string {
			p := filepath.Join(dir, "link")
			os.Symlink(img, p)
			return p
		}, []string{"--hostname", "h"}, "a symbolic link, not a regular file", true},
	} {
		for _, clone := range []bool{false, true} {
			name := tt.name
			if clone {
				name += ", -o"
			}
			t.Run(name, func(t *testing.T) {
				dir := testenv.WorldDir(t)
				img := patchBase(t, dir)
				if tt.setup != nil {
					tt.setup(t, img)
				}
				image := img
				if tt.image != nil {
					image = tt.image(dir, img)
				}
				want := tt.want
				if clone && tt.cloneOK {
					want = ""
				}
				before := fileSHA(t, img)
				args := append([]string{"patch", image}, tt.args...)
				out := filepath.Join(dir, "new.ext4")
				if clone {
					args = append(args, "-o", out)
				}
				names := dirNames(t, dir)
				code, stdout, stderr := runAsRoot(t, args...)
				switch {
				case want == "" && (code != 0 || stderr != ""):
					t.Fatalf("rootfs-synth %s = exit %d, stderr %q; want success", strings.Join(args, " "), code, stderr)
				case want == "":
					return
				case code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, want):
					t.Errorf("rootfs-synth %s = exit %d, stdout %q, stderr %q; want exit 1 and one line containing %q",
						strings.Join(args, " "), code, stdout, stderr, want)
				}
				if clone && strings.Contains(stderr, ".tmp-") {
					t.Errorf("stderr %q names the temporary file, want NEW", stderr)
				}
				if got := fileSHA(t, img); got != before {
					t.Errorf("the image changed")
				}
				if got := dirNames(t, dir); !slices.Equal(got, names) {
					t.Errorf("directory holds %q after, want %q as before", got, names)
				}
			})
		}
	}
}

// TestPatchLocked: an image another process holds an OFD lock on (as
// QEMU does with file.locking=on) is refused, exit 1, unchanged; once the
// lock is gone, the same patch succeeds (the control).
func TestPatchLocked(t *testing.T) {
	dir := testenv.WorldDir(t)
	img := patchBase(t, dir)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_RDLCK} // QEMU takes read locks on some bytes of an attached image
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	before := fileSHA(t, img)
	code, _, stderr := runAsRoot(t, "patch", img, "--hostname", "h")
	if want := "another process holds a lock on it"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("patch of a locked image = exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}
	if fileSHA(t, img) != before {
		t.Errorf("the locked image changed")
	}
	lk.Type = unix.F_UNLCK
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runAsRoot(t, "patch", img, "--hostname", "h"); code != 0 {
		t.Errorf("patch after the lock is gone = exit %d, stderr %q; want success", code, stderr)
	}
}

// TestPatchUsage: malformed flags are usage errors (exit 2, one line)
// found before the image is opened: the image stays byte-identical.
func TestPatchUsage(t *testing.T) {
	dir := testenv.WorldDir(t)
	img := patchBase(t, dir)
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("k\n"), 0o644)
	if err := os.Symlink(img, filepath.Join(dir, "link.img")); err != nil {
		t.Fatal(err)
	}
	before := fileSHA(t, img)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"patch"}, 2, "need exactly one IMAGE"},
		{[]string{"patch", img, img, "--hostname", "h"}, 2, "need exactly one IMAGE"},
		{[]string{"patch", img}, 2, "nothing to change"},
		{[]string{"patch", img, "--env", "NOVALUE"}, 2, `--env "NOVALUE": want NAME=VALUE`},
		{[]string{"patch", img, "--env", "1X=v"}, 2, "not a shell variable name"},
		{[]string{"patch", img, "--env="}, 2, "empty value"},
		{[]string{"patch", img, "--hostname", "bad_name"}, 2, "RFC 1123"},
		{[]string{"patch", img, "--put", "etc/x=" + key}, 2, "absolute GUEST_PATH"},
		{[]string{"patch", img, "--put", "/etc/x"}, 2, "want GUEST_PATH=HOST_FILE"},
		{[]string{"patch", img, "--rm", "etc/x"}, 2, "absolute path"},
		{[]string{"patch", img, "--put", "/etc/x=/dev/zero"}, 1, "not a regular file (a character device)"},
		{[]string{"patch", img, "--authorized-keys", dir}, 1, "not a regular file (a directory)"},
		{[]string{"patch", img, "--env-file", filepath.Join(dir, "none")}, 1, "no such file"},
		{[]string{"patch", img, "--bogus"}, 2, "patch: unknown flag --bogus"},
		{[]string{"patch", img, "--grow", "12Q"}, 2, `--grow "12Q"`},
		{[]string{"patch", img, "--grow", "1M"}, 1, "shrink"},
		{[]string{"patch", img, "-o", img, "--hostname", "h"}, 2, "is IMAGE itself"},
		{[]string{"patch", img, "-o", filepath.Join(dir, "link.img"), "--hostname", "h"}, 2, "is IMAGE itself"},
	} {
		code, _, stderr := runAsRoot(t, tt.args...)
		if code != tt.code || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("rootfs-synth %s = exit %d, stderr %q; want exit %d and one line containing %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.want)
		}
	}
	if fileSHA(t, img) != before {
		t.Errorf("a usage error changed the image")
	}
}

// TestParsePut: the MODE and UID:GID of --put come from the end only
// when they parse, so host names with ":" survive.
func TestParsePut(t *testing.T) {
	for _, tt := range []struct {
		spec, host string
		mode       fs.FileMode
		uid, gid   int
	}{
		{"/g=h", "h", 0, 0, 0},
		{"/g=h:0755", "h", 0o755, 0, 0},
		{"/g=h:4755:1:2", "h", fs.ModeSetuid | 0o755, 1, 2},
		{"/g=a:b", "a:b", 0, 0, 0},
		{"/g=a:b:0600", "a:b", 0o600, 0, 0},
		{"/g=a:1:2", "a:1:2", 0, 0, 0}, // "a" is no mode: all host name
		{"/g=x=y", "x=y", 0, 0, 0},
	} {
		op, host, err := parsePut(tt.spec)
		if err != nil || host != tt.host || op.mode != tt.mode || op.uid != tt.uid || op.gid != tt.gid || op.path != "/g" {
			t.Errorf("parsePut(%q) = %q %v %d:%d %q, %v; want %q %v %d:%d", tt.spec, host, op.mode, op.uid, op.gid, op.path, err, tt.host, tt.mode, tt.uid, tt.gid)
		}
	}
}
