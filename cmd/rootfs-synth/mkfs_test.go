//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// hostTreeDir writes testenv.HostTree under a directory every user can read.
func hostTreeDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testenv.WorldDir(t), "tree")
	testenv.HostTree(t, dir)
	return dir
}

// mkfs runs the built binary as an unprivileged user with extra
// environment variables; it returns the combined output.
func mkfs(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	c := testenv.Unprivileged(t, testenv.Binary(t), append([]string{"mkfs"}, args...)...)
	c.Env = append(os.Environ(), env...)
	out, err := c.CombinedOutput()
	return string(out), err
}

// checkImage runs e2fsck and compares the image with want.
func checkImage(t *testing.T, img string, want ext4check.Manifest, opts ext4check.Options) ext4check.Manifest {
	t.Helper()
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := ext4check.Compare(want, got, opts); len(diffs) > 0 {
		t.Errorf("image %s differs from the tree in %d ways:\n%s", img, len(diffs), strings.Join(diffs, "\n"))
	}
	return got
}

func TestMkfsUnprivilegedReadsBack(t *testing.T) {
	src := hostTreeDir(t)
	want, err := ext4check.FromDir(src)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(filepath.Dir(src), "out.img")
	// SRC_DIR given as a symlink is followed, like mke2fs -d does.
	srcLink := filepath.Join(filepath.Dir(src), "src-link")
	if err := os.Symlink(src, srcLink); err != nil {
		t.Fatal(err)
	}
	if out, err := mkfs(t, []string{"SOURCE_DATE_EPOCH=1800000000"}, srcLink, "-o", img); err != nil {
		t.Fatalf("rootfs-synth mkfs: %v\n%s", err, out)
	}
	got := checkImage(t, img, want, ext4check.Options{})
	if n := got["/usr/bin/su"]; n == nil || n.LinkGroup != "/usr/bin/busybox" || n.Perm != 0o4755 {
		t.Errorf("/usr/bin/su = %+v, want a setuid hard link of /usr/bin/busybox", n)
	}
	if n := got["/var/fifo-link"]; n == nil || n.Type != 'p' || n.LinkGroup != "/var/fifo" {
		t.Errorf("/var/fifo-link = %+v, want a hard link of the FIFO /var/fifo", n)
	}
	// mkfs and FromDir read the host through the same internal/hostfs: check
	// what it reads against what hostTree wrote, not only against FromDir.
	if n := got["/etc/hostname"]; n == nil || n.Xattrs["user.note"] != "hello" {
		t.Errorf("/etc/hostname = %+v, want xattr user.note = hello", n)
	}
	if os.Geteuid() == 0 {
		if n := got["/etc/apk"]; n == nil || n.UID != 4000000000 {
			t.Errorf("/etc/apk = %+v, want uid 4000000000 although built as uid %d", n, testenv.NobodyUID)
		}
		if n := got["/dev/vda"]; n == nil || n.Type != 'b' || n.Major != 254 || n.Minor != 0 {
			t.Errorf("/dev/vda = %+v, want block device 254:0", n)
		}
		if n := got["/usr/bin/busybox"]; n == nil || len(n.Xattrs["security.capability"]) != 20 {
			t.Errorf("/usr/bin/busybox = %+v, want a 20-byte security.capability", n)
		}
	}
}

func TestMkfsOwnerAndClamp(t *testing.T) {
	src := hostTreeDir(t)
	want, err := ext4check.FromDir(src)
	if err != nil {
		t.Fatal(err)
	}
	// SOURCE_DATE_EPOCH older than the tree clamps every newer mtime to it.
	const epoch = 1600000000
	for _, n := range want {
		n.UID, n.GID = 0, 0
		if n.Mtime >= epoch {
			n.Mtime, n.MtimeNsec = epoch, 0
		}
	}
	img := filepath.Join(filepath.Dir(src), "owned.img")
	out, err := mkfs(t, []string{"SOURCE_DATE_EPOCH=1600000000"}, "--owner", "0:0", "--no-journal", "--block-size", "1024", src, "-o", img)
	if err != nil {
		t.Fatalf("rootfs-synth mkfs --owner 0:0: %v\n%s", err, out)
	}
	checkImage(t, img, want, ext4check.Options{})
}

// TestMkfsReproducible builds the same tree twice under different time
// zones and umasks: the images must be byte for byte the same.
func TestMkfsReproducible(t *testing.T) {
	src := hostTreeDir(t)
	var sums [2][32]byte
	for i, env := range [][]string{{"TZ=UTC", "UMASK=022"}, {"TZ=Asia/Kathmandu", "UMASK=077"}} {
		img := filepath.Join(filepath.Dir(src), "repro"+string(rune('a'+i))+".img")
		c := testenv.Unprivileged(t, "/bin/sh", "-c", `umask $UMASK && exec "$@"`, "sh", testenv.Binary(t), "mkfs", src, "-o", img)
		c.Env = append(os.Environ(), env...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("rootfs-synth mkfs (%s): %v\n%s", env, err, out)
		}
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(b)
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of one tree: sha256 %x and %x, want equal", sums[0], sums[1])
	}
}

func TestMkfsErrorsLeaveNoOutput(t *testing.T) {
	src := hostTreeDir(t)
	if os.Geteuid() == 0 {
		// Readable by root only: the unprivileged build must fail on it.
		if err := os.WriteFile(filepath.Join(src, "etc/shadow-"), []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(src, "etc/hostname")
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"malformed SOURCE_DATE_EPOCH", []string{"SOURCE_DATE_EPOCH=yesterday"}, nil, `SOURCE_DATE_EPOCH "yesterday"`},
		{"bad size", nil, []string{"--size", "12Q"}, `"12Q" is not a size`},
		{"size too small", nil, []string{"--size", "64K"}, ""},
		{"bad owner", nil, []string{"--owner", "root"}, `"root" is not UID:GID`},
		{"bad uuid", nil, []string{"--uuid", "xyz"}, `"xyz" is not a UUID`},
		{"bad block size", nil, []string{"--block-size", "2048"}, "rootfs-synth: checking options: block size 2048"}, // before the walk, not blamed on SRC
		{"long label", nil, []string{"--label", "a-label-of-17-byt"}, "rootfs-synth: checking options: label"},
		{"source is a file", nil, []string{"--src", file}, "is not a directory"},
		{"missing source", nil, []string{"--src", filepath.Join(src, "nope")}, "nope"},
	}
	if os.Geteuid() == 0 {
		tests = append(tests, struct {
			name string
			env  []string
			args []string
			want string
		}{"unreadable file", nil, nil, "etc/shadow-"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outDir := filepath.Join(testenv.WorldDir(t), "out")
			if err := os.Mkdir(outDir, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(outDir, 0o777); err != nil {
				t.Fatal(err)
			}
			img := filepath.Join(outDir, "x.img")
			from := src
			args := tt.args
			if len(args) == 2 && args[0] == "--src" {
				from, args = args[1], nil
			}
			out, err := mkfs(t, tt.env, append(args, from, "-o", img)...)
			if err == nil {
				t.Fatalf("rootfs-synth mkfs %s succeeded, want an error\n%s", tt.name, out)
			}
			if !strings.Contains(out, tt.want) || !strings.HasPrefix(out, "rootfs-synth: ") {
				t.Errorf("rootfs-synth mkfs %s said %q, want an error containing %q", tt.name, out, tt.want)
			}
			if left, _ := os.ReadDir(outDir); len(left) > 0 {
				t.Errorf("rootfs-synth mkfs %s left %v in the output directory", tt.name, left)
			}
		})
	}
}

// TestMkfsStreamsContent: file contents are streamed, never held: building
// a tree with 600 MB of (sparse, cheap to make) files keeps the peak RSS of
// the process far below the content size.
func TestMkfsStreamsContent(t *testing.T) {
	src := filepath.Join(testenv.WorldDir(t), "tree")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		f, err := os.Create(filepath.Join(src, fmt.Sprintf("big%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		// Data at both ends, a hole between: the writer reads every byte.
		f.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 1<<20), 0)
		f.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 1<<20), 199<<20)
		f.Close()
	}
	img := filepath.Join(filepath.Dir(src), "big.img")
	rss, _ := peakRSS(t, testenv.Unprivileged(t, testenv.Binary(t), "mkfs", "--no-journal", src, "-o", img))
	t.Logf("peak RSS %.1f MiB", float64(rss)/(1<<20))
	const limit = 100 << 20
	if rss > limit {
		t.Errorf("rootfs-synth mkfs of 600 MB: peak RSS %d MiB, want below %d MiB", rss>>20, limit>>20)
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
}

// rusageHelper names the environment variable that turns this test binary
// into a small launcher: it runs the JSON-encoded command and prints its
// peak RSS in KiB. The launcher is needed because a child started straight
// from the (large) test process inherits the test's RSS as its starting
// high-water mark (vfork shares the memory until exec, and Linux keeps
// the larger ru_maxrss), which would hide the child's own figure.
const rusageHelper = "ROOTFS_SYNTH_TEST_RUSAGE_OF"

func init() {
	spec := os.Getenv(rusageHelper)
	if spec == "" {
		return
	}
	var argv []string
	if err := json.Unmarshal([]byte(spec), &argv); err != nil || len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "bad", rusageHelper, spec)
		os.Exit(2)
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		fmt.Fprintln(os.Stderr, argv[0], err)
		os.Exit(1)
	}
	fmt.Println(c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
	os.Exit(0)
}

// peakRSS runs c (its path, arguments and environment) through the
// rusageHelper launcher and returns the peak resident set size of c's
// process in bytes, and what c wrote on stdout and stderr.
func peakRSS(t *testing.T, c *exec.Cmd) (int64, string) {
	t.Helper()
	spec, err := json.Marshal(append([]string{c.Path}, c.Args[1:]...))
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := exec.Command(self)
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	h.Env = append(env[:len(env):len(env)], rusageHelper+"="+string(spec))
	var stderr bytes.Buffer
	h.Stderr = &stderr
	out, err := h.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(c.Args, " "), err, stderr.String())
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("rusage launcher printed %q", out)
	}
	return kb << 10, stderr.String()
}
