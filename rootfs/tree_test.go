package rootfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
)

var epoch = time.Unix(1700000000, 0)

func bytesContent(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func file(mode fs.FileMode, data string) *Node {
	return &Node{Mode: mode, ModTime: epoch, Size: int64(len(data)), Content: bytesContent([]byte(data))}
}

func dir(mode fs.FileMode) *Node { return &Node{Mode: fs.ModeDir | mode, ModTime: epoch} }

// sample builds a tree with every kind of entry.
func sample(t *testing.T) *Tree {
	t.Helper()
	tr := New(epoch)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tr.MkdirAll("usr/bin", Node{Mode: 0o755, ModTime: epoch}))
	must(tr.Add("etc", dir(0o755)))
	must(tr.Add("etc/passwd", file(0o644, "root:x:0:0:root:/root:/bin/sh\n")))
	shadow := file(0o640, "root:*::0:::::\n")
	shadow.GID = 42
	must(tr.Add("etc/shadow", shadow))
	must(tr.Add("bin", dir(0o755)))
	must(tr.Add("bin/busybox", file(0o755, "\x7fELF...")))
	must(tr.Add("bin/sh", &Node{Mode: fs.ModeSymlink | 0o777, ModTime: epoch, Linkname: "/bin/busybox"}))
	must(tr.Link("bin/busybox", "usr/bin/busybox-hardlink"))
	must(tr.Add("tmp", dir(0o777|fs.ModeSticky)))
	must(tr.Add("root", dir(0o700)))
	must(tr.Add("dev", dir(0o755)))
	must(tr.Add("dev/null", &Node{Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, ModTime: epoch, Devmajor: 1, Devminor: 3}))
	must(tr.Add("usr/bin/ping", &Node{Mode: 0o755, ModTime: epoch, Xattrs: map[string][]byte{"security.capability": {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}))
	return tr
}

func TestFSView(t *testing.T) {
	tr := sample(t)
	if err := fstest.TestFS(tr.FS(), "etc/passwd", "etc/shadow", "bin/busybox", "bin/sh", "usr/bin/ping", "dev/null"); err != nil {
		t.Fatal(err)
	}
	target, err := fs.ReadLink(tr.FS(), "bin/sh")
	if err != nil || target != "/bin/busybox" {
		t.Errorf("ReadLink(bin/sh) = %q, %v, want /bin/busybox", target, err)
	}
}

func TestPathsSortedParentsFirst(t *testing.T) {
	tr := sample(t)
	paths := tr.Paths()
	if !slices.IsSorted(paths) || paths[0] != "" {
		t.Fatalf("Paths() = %q, want sorted with the root first", paths)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		if p != "" && !seen[parent(p)] {
			t.Errorf("%s comes before its parent", p)
		}
		seen[p] = true
	}
}

func TestAddErrors(t *testing.T) {
	tr := sample(t)
	for _, tc := range []struct {
		path string
		want error
	}{
		{"etc/passwd", ErrExist},
		{"nosuch/file", ErrNotExist},
		{"", ErrExist},
	} {
		if err := tr.Add(tc.path, file(0o644, "")); !errors.Is(err, tc.want) {
			t.Errorf("Add(%q) = %v, want %v", tc.path, err, tc.want)
		}
	}
	if err := tr.Add("etc/passwd/x", file(0o644, "")); err == nil {
		t.Error("Add below a regular file succeeded")
	}
	if _, err := Clean("a/../b"); err == nil {
		t.Error(`Clean("a/../b") succeeded`)
	}
}

func TestReplaceAndRemove(t *testing.T) {
	tr := sample(t)
	if err := tr.Replace("usr", file(0o644, "x")); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Get("usr/bin/ping"); ok {
		t.Error("usr/bin/ping survived replacing usr with a file")
	}
	if err := tr.Remove("etc"); err != nil {
		t.Fatal(err)
	}
	if got := tr.Children(""); !slices.Equal(got, []string{"bin", "dev", "root", "tmp", "usr"}) {
		t.Errorf("Children(root) = %q after removals", got)
	}
	if err := tr.Remove("etc"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Remove(etc) twice = %v, want ErrNotExist", err)
	}
}

func TestResolve(t *testing.T) {
	tr := New(epoch)
	tr.MkdirAll("usr/lib", Node{Mode: 0o755})
	tr.Add("lib", &Node{Mode: fs.ModeSymlink | 0o777, Linkname: "usr/lib"})
	tr.Add("usr/lib/libc.so", &Node{Mode: fs.ModeSymlink | 0o777, Linkname: "../../lib/real.so"})
	tr.Add("loop", &Node{Mode: fs.ModeSymlink | 0o777, Linkname: "/loop"})
	for _, tc := range []struct {
		in     string
		follow bool
		want   string
	}{
		{"lib", false, "lib"},
		{"lib", true, "usr/lib"},
		{"lib/libc.so", false, "usr/lib/libc.so"},
		{"lib/libc.so", true, "usr/lib/real.so"},
		{"/lib/x", true, "usr/lib/x"},
	} {
		got, err := tr.Resolve(tc.in, tc.follow)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q, %v) = %q, %v, want %q", tc.in, tc.follow, got, err, tc.want)
		}
	}
	if _, err := tr.Resolve("loop", true); err == nil {
		t.Error("Resolve of a symlink loop succeeded")
	}
}

// TestAddToImage writes the tree with ext4img; e2fsck and debugfs judge it.
func TestAddToImage(t *testing.T) {
	tr := sample(t)
	w := ext4img.NewWriter(ext4img.Options{Time: epoch})
	if err := tr.AddTo(w); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "tree.ext4")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	want := ext4check.Manifest{}
	if err := tr.Walk(func(p string, n *Node) error {
		m, err := ext4check.FromEntries([]ext4img.Entry{n.Entry(p)}, nil)
		for k, v := range m {
			want[k] = v
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want["/bin/busybox"].Nlink, want["/bin/busybox"].LinkGroup = 2, "/bin/busybox"
	want["/usr/bin/busybox-hardlink"].Nlink, want["/usr/bin/busybox-hardlink"].LinkGroup = 2, "/bin/busybox"
	if diffs := ext4check.Compare(want, got, ext4check.Options{}); len(diffs) > 0 {
		t.Errorf("image differs from the tree:\n%s", diffs)
	}
}

func TestClampTimes(t *testing.T) {
	tr := sample(t)
	later := epoch.Add(time.Hour)
	n, _ := tr.Get("etc/passwd")
	n.ModTime = later.Add(time.Hour)
	if got := tr.ClampTimes(later); got != 1 {
		t.Errorf("ClampTimes = %d, want 1", got)
	}
	if !n.ModTime.Equal(later) {
		t.Errorf("after ClampTimes: mtime %v, want %v", n.ModTime, later)
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""}, {".", ""}, {"/", ""}, {"./", ""}, {"etc", "etc"}, {"/etc/", "etc"},
		{"./etc//passwd", "etc/passwd"}, {"usr/./bin", "usr/bin"}, {"a/.b/c.", "a/.b/c."},
	} {
		if got, err := Clean(tc.in); err != nil || got != tc.want {
			t.Errorf("Clean(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"..", "a/..", "../a", "a/../b", "a\x00b"} {
		if got, err := Clean(bad); err == nil {
			t.Errorf("Clean(%q) = %q, want an error", bad, got)
		}
	}
}
