package inspect_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/ext4patch"
	"github.com/rootfs-synth/rootfs-synth/inspect"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// extra is a package only the second build installs: no scripts, so
// all it adds to the tree is its own files and apk's records of it.
var extra = apktest.Pkg{
	Name: "difftest", Version: "1.2-r0", Description: "a package one build has",
	Files: []apktest.File{
		{Name: "usr", Mode: fs.ModeDir | 0o755},
		{Name: "usr/share", Mode: fs.ModeDir | 0o755},
		{Name: "usr/share/difftest", Mode: fs.ModeDir | 0o755},
		{Name: "usr/share/difftest/a.txt", Mode: 0o644, Data: []byte("a\n")},
		{Name: "usr/share/difftest/b.txt", Mode: 0o644, Data: []byte("bb\n")},
	},
}

// buildTwo builds the base world and the base world plus extra from one
// generated mirror, and returns the two images' paths.
func buildTwo(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	repos, err := alpinetest.WriteMirror(filepath.Join(dir, "mirror"), alpinetest.Options{
		Testdata: testenv.SharedTestdata(t), Extra: []apktest.Pkg{extra},
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, pkgs ...string) string {
		out := filepath.Join(dir, name)
		_, err := build.Run(context.Background(), build.Options{
			Profile: "none", Packages: append(slices.Clone(alpinetest.BaseWorld), pkgs...), Arch: "x86_64",
			Mirrors: []string{filepath.Join(dir, "mirror")}, Keys: repos.KeyRing(),
			CacheDir: filepath.Join(dir, "cache"), Offline: true, Output: out, Time: time.Unix(1750000000, 0),
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return run("a.ext4"), run("b.ext4", extra.Name)
}

func open(t *testing.T, path string) *inspect.Image {
	t.Helper()
	img, err := inspect.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

// TestDiffOnePackage: two builds that differ by one package differ by
// exactly that package and its files, plus apk's own records of it.
func TestDiffOnePackage(t *testing.T) {
	a, b := buildTwo(t)
	ia, ib := open(t, a), open(t, b)

	got := inspect.DiffPackages(ia.Packages(), ib.Packages())
	want := []inspect.PackageChange{{Name: "difftest", New: "1.2-r0"}}
	if !slices.Equal(got, want) {
		t.Errorf("DiffPackages = %+v, want %+v", got, want)
	}
	files, err := inspect.DiffFiles(ia, ib)
	if err != nil {
		t.Fatal(err)
	}
	var owned, other []string
	for _, c := range files {
		if c.Package == "difftest" {
			if c.Change != "added" {
				t.Errorf("%s: %s, want added", c.Path, c.Change)
			}
			owned = append(owned, c.Path)
		} else {
			other = append(other, c.Path)
		}
	}
	wantOwned := []string{"/usr/share/difftest", "/usr/share/difftest/a.txt", "/usr/share/difftest/b.txt"}
	if !slices.Equal(owned, wantOwned) {
		t.Errorf("files of difftest = %q, want %q", owned, wantOwned)
	}
	// What else may change: apk's records, and the build's report.
	allowed := []string{"/etc/apk/world", "/lib/apk/db/installed", "/usr/lib/rootfs-synth/report.json"}
	for _, p := range other {
		if !slices.Contains(allowed, p) {
			t.Errorf("unexpected change %q (all: %+v)", p, files)
		}
	}
	if !slices.Contains(other, "/lib/apk/db/installed") {
		t.Errorf("changes %q do not include apk's database", other)
	}

	// The negative control: an image against itself has no change.
	if files, err := inspect.DiffFiles(ia, open(t, a)); err != nil || len(files) != 0 {
		t.Errorf("DiffFiles(a, a) = %+v, %v; want none", files, err)
	}
	if got := inspect.DiffPackages(ia.Packages(), ia.Packages()); len(got) != 0 {
		t.Errorf("DiffPackages(a, a) = %+v, want none", got)
	}
}

// TestDiffFileChanges: each kind of change to one path is named, content
// included when the size stays the same.
func TestDiffFileChanges(t *testing.T) {
	a, _ := buildTwo(t)
	b := filepath.Join(t.TempDir(), "b.ext4")
	testenv.CopyFile(t, b, a)
	mtime := time.Unix(1750000000, 0)
	im, err := ext4patch.Open(b, ext4patch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hostname := readFile(t, a, "/etc/hostname")
	flipped := []byte(strings.ToUpper(string(hostname)))
	if string(flipped) == string(hostname) {
		flipped[0] ^= 1
	}
	group := readFile(t, a, "/etc/group")
	steps := []error{
		im.Put("etc/hostname", strings.NewReader(string(flipped)), 0o644, 0, 0, mtime), // same size
		im.Put("etc/motd", strings.NewReader("changed\n"), 0o600, 0, 0, mtime),
		im.Put("etc/new-file", strings.NewReader("new\n"), 0o644, 0, 0, mtime),
		im.Remove("etc/securetty"),
		im.Put("etc/group", bytes.NewReader(group), 0o644, 5, 5, mtime), // same bytes, another owner
		im.Remove("etc/shells"),
		im.PutDir("etc/shells", 0o755, 0, 0, mtime), // a file, now a directory
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := im.Commit(); err != nil {
		t.Fatal(err)
	}
	im.Close()
	// What ext4patch does not make: a symlink's target and an xattr,
	// changed by debugfs.
	for _, req := range []string{"rm /bin/sh", "symlink /bin/sh /bin/elsewhere", "ea_set /etc/hostname user.test yes"} {
		if out, err := exec.Command(testenv.Tool(t, "debugfs"), "-w", "-R", req, b).CombinedOutput(); err != nil {
			t.Fatalf("debugfs -w -R %q: %v\n%s", req, err, out)
		}
	}
	if err := e2fsck.Check(t, b); err != nil {
		t.Fatal(err)
	}

	files, err := inspect.DiffFiles(open(t, a), open(t, b))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range files {
		got[c.Path] = c.Change + " " + strings.Join(c.What, ",")
	}
	want := map[string]string{
		"/etc/hostname":  "changed xattrs,content",
		"/etc/motd":      "changed mode,size",
		"/etc/new-file":  "added ",
		"/etc/securetty": "removed ",
		"/etc/group":     "changed owner",
		"/etc/shells":    "changed type",
		"/bin/sh":        "changed target",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && p != "/etc" && p != "/bin" {
			t.Errorf("unexpected change %s: %s", p, got[p])
		}
	}
}

// TestFullReport: the report an image carries, with its image section
// read from the image, is the report the build wrote (less the phases'
// times and the path).
func TestFullReport(t *testing.T) {
	a, _ := buildTwo(t)
	img := open(t, a)
	if img.Report == nil {
		t.Fatal("the image carries no report")
	}
	rep := img.FullReport()
	if rep.Image == nil || rep.Image.Size != img.Size || rep.Image.UUID == "" || rep.Image.BlockSize != 4096 {
		t.Errorf("FullReport's image = %+v", rep.Image)
	}
	if len(img.SHA256) != 64 {
		t.Errorf("SHA256 = %q", img.SHA256)
	}
}

func readFile(t *testing.T, image, name string) []byte {
	t.Helper()
	img := open(t, image)
	f, err := img.FS.Open(strings.TrimPrefix(name, "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
