package provision

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/files"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

var testKey = sync.OnceValues(func() (*apktest.Key, error) { return apktest.NewKey("") })

func key(t testing.TB) *apktest.Key {
	t.Helper()
	k, err := testKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// readShared returns a file of the shared reference data.
func readShared(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// basePackages is a repository shaped like Alpine's base closure.
func basePackages(t testing.TB) []apktest.Pkg {
	etc := "minirootfs-3.20.3/etc/"
	dir := func(name string, mode fs.FileMode) apktest.File {
		return apktest.File{Name: name, Mode: fs.ModeDir | mode}
	}
	return []apktest.Pkg{
		{
			Name: "alpine-baselayout-data", Version: "3.7.2-r0", Origin: "alpine-baselayout",
			Replaces: []string{"alpine-baselayout"},
			Files: []apktest.File{
				dir("etc", 0o755),
				{Name: "etc/passwd", Data: []byte(readShared(t, etc+"passwd"))},
				{Name: "etc/group", Data: []byte(readShared(t, etc+"group"))},
				{Name: "etc/shadow", Mode: 0o640, Gname: "shadow", Data: []byte(strings.Replace(readShared(t, etc+"shadow"), "root:*:", "root::", 1))},
				{Name: "etc/inittab", Data: []byte(readShared(t, etc+"inittab"))},
				{Name: "etc/hostname", Data: []byte("localhost\n")},
				{Name: "etc/motd", Data: []byte("data's motd\n")},
			},
		},
		{
			Name: "alpine-baselayout", Version: "3.7.2-r0", Depends: []string{"alpine-baselayout-data=3.7.2-r0"},
			Scripts: map[string]string{"pre-install": alpinetest.BaselayoutPreInstall, "post-install": alpinetest.BaselayoutPostInstall},
			Files: []apktest.File{
				dir("dev", 0o755), dir("etc", 0o755), dir("proc", 0o555), dir("root", 0o700),
				dir("tmp", 0o777|fs.ModeSticky), dir("var", 0o755), dir("var/tmp", 0o777|fs.ModeSticky),
				dir("var/empty", 0o555), dir("run", 0o755),
				{Name: "var/run", Linkname: "../run"},
				{Name: "etc/motd", Data: []byte("Welcome to Alpine!\n")},
			},
		},
		{
			Name: "busybox", Version: "1.37.0-r30", Depends: []string{"so:libc.musl-x86_64.so.1"},
			Triggers: []string{"/bin", "/usr/bin", "/sbin", "/usr/sbin", "/lib/modules/*", "/usr/lib/modules/*"},
			Scripts:  map[string]string{"post-install": alpinetest.BusyboxPostInstall, "trigger": alpinetest.BusyboxTrigger},
			Files: []apktest.File{
				dir("bin", 0o755), dir("sbin", 0o755), dir("usr", 0o755), dir("usr/sbin", 0o755), dir("usr/bin", 0o755),
				{Name: "bin/busybox", Mode: 0o755, Data: []byte("#!/bin/false busybox stand-in\n")},
				{Name: "etc/busybox-paths.d/busybox", Data: []byte(readShared(t, "packages/busybox-paths.d-busybox-1.37.0-r30.txt"))},
			},
		},
		{
			Name: "musl", Version: "1.2.5-r23", Provides: []string{"so:libc.musl-x86_64.so.1=1"},
			Files: []apktest.File{
				{Name: "lib/ld-musl-x86_64.so.1", Mode: 0o755, Data: []byte("musl stand-in")},
				{Name: "lib/libc.musl-x86_64.so.1", Linkname: "ld-musl-x86_64.so.1"},
			},
		},
		{
			Name: "busybox-suid", Version: "1.37.0-r30", Depends: []string{"busybox"},
			Files: []apktest.File{{Name: "bin/bbsuid", Mode: 0o111 | fs.ModeSetuid, Data: []byte("bbsuid stand-in")}},
		},
		{
			Name: "busybox-binsh", Version: "1.37.0-r30", Depends: []string{"busybox"}, ProviderPriority: ptr(100),
			Provides: []string{"/bin/sh", "cmd:sh=1.37.0-r30"},
			Files:    []apktest.File{{Name: "bin/sh", Linkname: "/bin/busybox"}},
		},
		{
			// A service whose files belong to the user its .pre-install makes.
			Name: "svc", Version: "1.0-r0", Depends: []string{"/bin/sh"},
			Scripts: map[string]string{"pre-install": alpinetest.UserPreInstall},
			Files: []apktest.File{
				{Name: "var/lib/svc/", Mode: fs.ModeDir | 0o750, Uname: "svc", Gname: "svc"},
				{Name: "var/lib/svc/state", Mode: 0o640, Uname: "svc", Gname: "svc", Data: []byte("state\n")},
				{Name: "usr/bin/svc", Mode: 0o755, Data: []byte("svc binary"), Xattrs: map[string][]byte{"user.origin": []byte("svc")}},
				{Name: "usr/bin/svc-again", Hardlink: "usr/bin/svc"},
				// Through alpine-baselayout's var/run -> ../run symlink.
				{Name: "var/run/svc/", Mode: fs.ModeDir | 0o755, Uname: "svc", Gname: "svc"},
				{Name: "var/run/svc/pid.conf", Data: []byte("pidfile /run/svc/pid\n")},
			},
		},
		{
			// Replaces a file of svc.
			Name: "svc-tools", Version: "1.0-r0", Depends: []string{"svc"}, Replaces: []string{"svc"},
			Files: []apktest.File{{Name: "usr/bin/svc", Mode: 0o755, Data: []byte("better svc binary")}},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// fixture is a repository of packages fetched and verified into a cache.
type fixture struct {
	world []apk.Dependency
	pkgs  []*apk.Package
	files []string
	store string
	keys  *apk.KeyRing
}

// newFixture builds pkgs into a repository, resolves world against it and
// fetches the packages.
func newFixture(t testing.TB, pkgs []apktest.Pkg, world ...string) *fixture {
	t.Helper()
	repo := apktest.NewRepo(key(t))
	for _, p := range pkgs {
		if _, err := repo.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := repo.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	client := &apk.Client{CacheDir: cache, Keys: key(t).KeyRing(), Arch: "x86_64"}
	ctx := context.Background()
	idx, err := client.FetchIndexes(ctx, []apk.Repository{{URLs: []string{repo.URL("file://" + dir)}}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: filepath.Join(cache, "unpacked"), keys: key(t).KeyRing()}
	for _, a := range world {
		d, err := apk.ParseDependency(a)
		if err != nil {
			t.Fatal(err)
		}
		f.world = append(f.world, d)
	}
	if f.pkgs, err = apk.Solve(f.world, idx, apk.SolveOptions{Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	if f.files, err = client.FetchPackages(ctx, f.pkgs); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) options() Options {
	return Options{
		Arch: "x86_64", World: f.world, Packages: f.pkgs, PackageFiles: f.files, StoreDir: f.store,
		Repositories: []string{"https://dl-cdn.alpinelinux.org/alpine/v3.23/main"}, Keys: f.keys,
		Time: time.Unix(1700000000, 0), RootShell: "/usr/local/bin/sbx-shell",
	}
}

var baseWorld = []string{"alpine-baselayout", "busybox", "busybox-suid", "busybox-binsh", "svc-tools"}

func provisionBase(t testing.TB) (*fixture, *Result) {
	t.Helper()
	f := newFixture(t, basePackages(t), baseWorld...)
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	return f, res
}

func node(t testing.TB, tr *rootfs.Tree, p string) *rootfs.Node {
	t.Helper()
	n, ok := tr.Get(p)
	if !ok {
		t.Fatalf("/%s is missing from the tree", p)
	}
	return n
}

func content(t testing.TB, tr *rootfs.Tree, p string) string {
	t.Helper()
	b, err := fs.ReadFile(tr.FS(), p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProvisionBase(t *testing.T) {
	_, res := provisionBase(t)
	tr := res.Tree
	for _, tc := range []struct {
		path     string
		mode     fs.FileMode
		uid, gid uint32
	}{
		{"root", fs.ModeDir | 0o700, 0, 0},
		{"tmp", fs.ModeDir | fs.ModeSticky | 0o777, 0, 0},
		{"var/empty", fs.ModeDir | 0o555, 0, 0},
		{"etc/shadow", 0o640, 0, 42},
		{"bin/bbsuid", fs.ModeSetuid | 0o111, 0, 0},
		{"bin/sh", fs.ModeSymlink | 0o777, 0, 0},
	} {
		n := node(t, tr, tc.path)
		if n.Mode != tc.mode || n.UID != tc.uid || n.GID != tc.gid {
			t.Errorf("/%s: mode %v owner %d:%d, want %v %d:%d", tc.path, n.Mode, n.UID, n.GID, tc.mode, tc.uid, tc.gid)
		}
	}
	list := readShared(t, "packages/busybox-paths.d-busybox-1.37.0-r30.txt")
	links := 0
	for _, l := range strings.Fields(list) {
		n := node(t, tr, l)
		want := "/bin/busybox"
		for _, s := range bbsuidApplets {
			if s == l {
				want = "/bin/bbsuid"
			}
		}
		if n.Mode&fs.ModeSymlink == 0 || n.Linkname != want {
			t.Errorf("/%s = %v -> %q, want a link to %s", l, n.Mode, n.Linkname, want)
		}
		links++
	}
	if links != 304 {
		t.Errorf("the busybox list has %d paths, want 304", links)
	}
	// alpine-baselayout-data, installed first, replaces alpine-baselayout:
	// apk keeps -data's copy (apk_pkg_replaces_file says "no" to the later
	// package, replacesFile here), although both have one origin.
	if got, want := content(t, tr, "etc/motd"), "data's motd\n"; got != want {
		t.Errorf("/etc/motd = %q, want %q, alpine-baselayout-data's", got, want)
	}
	// The svc user the package's .pre-install made owns its files by name;
	// klogd comes from busybox's .post-install, installed before svc.
	// busybox gives system accounts the first free ids from 100.
	passwd := content(t, tr, "etc/passwd")
	group := content(t, tr, "etc/group")
	shadow := content(t, tr, "etc/shadow")
	for _, want := range []string{"root:x:0:0:root:/root:/usr/local/bin/sbx-shell\n", "svc:x:101:102:svc:/var/lib/svc:/sbin/nologin\n", "klogd:x:100:101:klogd:/dev/null:/sbin/nologin\n"} {
		if !strings.Contains(passwd, want) {
			t.Errorf("/etc/passwd lacks %q:\n%s", want, passwd)
		}
	}
	for _, want := range []string{"svc:x:102:svc\n", "klogd:x:101:klogd\n"} {
		if !strings.Contains(group, want) {
			t.Errorf("/etc/group lacks %q:\n%s", want, group)
		}
	}
	if !strings.HasPrefix(shadow, "root:*:") || !strings.Contains(shadow, "\nsvc:!:") || !strings.Contains(shadow, "\nklogd:!:") {
		t.Errorf("/etc/shadow =\n%s\nwant root:* and locked svc and klogd", shadow)
	}
	for _, p := range []string{"var/lib/svc", "var/lib/svc/state"} {
		if n := node(t, tr, p); n.UID != 101 || n.GID != 102 {
			t.Errorf("/%s is owned by %d:%d, want svc 101:102", p, n.UID, n.GID)
		}
	}
	status := map[string]string{}
	for _, r := range res.Scripts {
		status[r.Package+" "+r.Script] = r.Status + " " + r.Why
	}
	for k, want := range map[string]string{
		"busybox-1.37.0-r30 .post-install":        statusReproduced,
		"busybox-1.37.0-r30 .trigger":             statusReproduced,
		"alpine-baselayout-3.7.2-r0 .pre-install": statusReproduced,
		"svc-1.0-r0 .pre-install":                 statusReproduced,
		// A "case" on readlink's output, a chown and a test.
		"alpine-baselayout-3.7.2-r0 .post-install": statusReproduced,
	} {
		if got := status[k]; !strings.HasPrefix(got, want+" ") {
			t.Errorf("report: %s is %q, want %s", k, got, want)
		}
	}
	if n := node(t, tr, "var/run"); n.Mode&fs.ModeSymlink == 0 {
		t.Errorf("/var/run = %v, want baselayout's symlink kept", n.Mode)
	}
	if got := content(t, tr, "run/svc/pid.conf"); got != "pidfile /run/svc/pid\n" {
		t.Errorf("/run/svc/pid.conf (installed as var/run/svc/pid.conf) = %q", got)
	}
	if n := node(t, tr, "run/svc"); n.UID != 101 || !n.IsDir() {
		t.Errorf("/run/svc = %v owner %d, want the svc directory", n.Mode, n.UID)
	}
	if got := content(t, tr, "usr/bin/svc"); got != "better svc binary" {
		t.Errorf("/usr/bin/svc = %q, want svc-tools' file", got)
	}
}

// TestProvisionImage: the base tree with the sandbox's own files laid
// over it, written as an image, is e2fsck-clean and debugfs reads back the
// tree, every path and field; sbx-init is there, 0755.
func TestProvisionImage(t *testing.T) {
	f := newFixture(t, basePackages(t), baseWorld...)
	o := f.options()
	o.Overlays = []fs.FS{files.FS()}
	res, err := Provision(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if n := node(t, res.Tree, "usr/sbin/sbx-init"); n.Mode != 0o755 || n.UID != 0 || n.GID != 0 {
		t.Errorf("/usr/sbin/sbx-init: mode %v owner %d:%d, want 0755 root", n.Mode, n.UID, n.GID)
	}
	w := ext4img.NewWriter(ext4img.Options{UUID: res.UUID, HashSeed: res.HashSeed, Time: res.Time})
	if err := res.Tree.AddTo(w); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "base.ext4")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
	var entries []ext4img.Entry
	var links []ext4check.Link
	first := map[*rootfs.Node]string{}
	res.Tree.Walk(func(p string, n *rootfs.Node) error {
		if res.Tree.Linked(n) {
			if prev, ok := first[n]; ok {
				links = append(links, ext4check.Link{Path: p, Target: prev})
				return nil
			}
			first[n] = p
		}
		entries = append(entries, n.Entry(p))
		return nil
	})
	want, err := ext4check.FromEntries(entries, links)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := ext4check.Compare(want, got, ext4check.Options{}); len(diffs) > 0 {
		t.Errorf("debugfs reads back another tree:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestProvisionSteps: the Events name only the steps there are, in order;
// each step ends with one Event that carries its wall time and nothing
// else, and Result.Steps holds exactly those.
func TestProvisionSteps(t *testing.T) {
	f := newFixture(t, basePackages(t), baseWorld...)
	opts := f.options()
	opts.Overlays = []fs.FS{fstest.MapFS{"etc/issue": {Data: []byte("hi\n"), Mode: 0o644}}}
	var events, ends []Event
	opts.Progress = func(e Event) { events = append(events, e) }
	res, err := Provision(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	steps := []string{"unpack", "install", "triggers", "accounts", "database", "overlay"}
	step := 0
	for _, e := range events {
		if step == len(steps) || e.Phase != steps[step] {
			t.Fatalf("Event %+v after the steps %q ended, want one of step %q", e, steps[:step], steps[min(step, len(steps)-1)])
		}
		if e.Elapsed == 0 {
			continue
		}
		if e.Done != 0 || e.Total != 0 || e.Package != "" {
			t.Errorf("the end of %s = %+v, want only Phase and Elapsed", e.Phase, e)
		}
		ends = append(ends, e)
		step++
	}
	if step != len(steps) {
		t.Errorf("steps ended: %q, want %q", steps[:step], steps)
	}
	if !slices.Equal(res.Steps, ends) {
		t.Errorf("Result.Steps = %+v, want the steps' last Events %+v", res.Steps, ends)
	}
}
