package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// storeNames lists what the store holds, temporary files included.
func storeNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return names
}

func TestProvisionBadInput(t *testing.T) {
	base := basePackages(t)
	for _, tc := range []struct {
		name   string
		extra  apktest.Pkg
		world  []string
		break_ func(f *fixture)
		opts   func(o *Options)
		want   []string // substrings of the error
	}{
		{
			name:  "two owners, no replaces",
			extra: apktest.Pkg{Name: "clash", Version: "1-r0", Files: []apktest.File{{Name: "usr/bin/svc", Data: []byte("clash")}}},
			world: []string{"svc", "clash"},
			want:  []string{"clash-1-r0", "svc-1.0-r0", "/usr/bin/svc"},
		},
		{
			name: "file where a directory is",
			extra: apktest.Pkg{Name: "flat", Version: "1-r0", Files: []apktest.File{
				{Name: "var/lib/svc-x", Data: []byte("x")}, {Name: "tmp", Data: []byte("not a dir")}}},
			world: []string{"alpine-baselayout", "flat"},
			want:  []string{"flat-1-r0", "/tmp", "directory"},
		},
		{
			name: "adduser names a missing group",
			extra: apktest.Pkg{Name: "lost", Version: "1-r0", Scripts: map[string]string{
				"pre-install": "#!/bin/sh\nadduser -S -D -H -G nosuch lost\n"}},
			world: []string{"alpine-baselayout", "lost"},
			want:  []string{"lost-1-r0", ".pre-install", "nosuch"},
		},
		{
			name:  "data fails verification",
			world: []string{"svc"},
			break_: func(f *fixture) {
				for i, p := range f.pkgs {
					if p.Name == "svc" {
						b, _ := os.ReadFile(f.files[i])
						b[len(b)-40] ^= 0xff // in the data member
						os.WriteFile(f.files[i], b, 0o644)
					}
				}
			},
			want: []string{"svc-1.0-r0"},
		},
		{
			name:  "overlay that is not a directory",
			world: []string{"svc"},
			opts: func(o *Options) {
				o.Overlays = []fs.FS{fstest.MapFS{".": &fstest.MapFile{Data: []byte("x")}}}
			},
			want: []string{"overlay 1", "not a directory"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs := base
			if tc.extra.Name != "" {
				pkgs = append(append([]apktest.Pkg(nil), base...), tc.extra)
			}
			f := newFixture(t, pkgs, tc.world...)
			if tc.break_ != nil {
				tc.break_(f)
			}
			o := f.options()
			if tc.opts != nil {
				tc.opts(&o)
			}
			_, err := Provision(context.Background(), o)
			if err == nil {
				t.Fatal("Provision succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			for _, n := range storeNames(t, f.store) {
				if strings.HasPrefix(n, "/tmp/") {
					t.Errorf("a temporary file is left in the store: %s", n)
				}
			}
		})
	}
}

// TestProvisionWarmNeedsNoPackages: a second run reads the store's
// manifests and files only, so it succeeds with the packages gone, and
// gives the same tree.
func TestProvisionWarm(t *testing.T) {
	f, cold := provisionBase(t)
	for _, p := range f.files {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	warm, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatalf("warm run without the package files: %v", err)
	}
	if cold.UUID != warm.UUID {
		t.Errorf("UUID %x (cold) != %x (warm)", cold.UUID, warm.UUID)
	}
	if a, b := image(t, cold), image(t, warm); !bytes.Equal(a, b) {
		t.Error("cold and warm runs give different images")
	}
}

func image(t *testing.T, res *Result) []byte {
	t.Helper()
	w := ext4img.NewWriter(ext4img.Options{UUID: res.UUID, HashSeed: res.HashSeed, Time: res.Time})
	if err := res.Tree.AddTo(w); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "img")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUUIDFollowsContent: two trees differing only in one file's bytes
// get different UUIDs.
func TestUUIDFollowsContent(t *testing.T) {
	_, a := provisionBase(t)
	pkgs := basePackages(t)
	for i := range pkgs {
		if pkgs[i].Name == "svc-tools" {
			pkgs[i].Files[0].Data = []byte("BETTER svc binary")
		}
	}
	f := newFixture(t, pkgs, baseWorld...)
	b, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	if a.UUID == b.UUID {
		t.Errorf("same UUID %x for trees with different content", a.UUID)
	}
}

// TestRealPackages installs the real Alpine packages of the shared data:
// every entry lands, owned by the names it carries (root).
func TestRealPackages(t *testing.T) {
	dir := filepath.Join(readSharedDir(t), "packages")
	ents, _ := os.ReadDir(dir)
	var pkgs []*apk.Package
	var files []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".apk") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		info, err := apk.VerifyPackage(fh, nil)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		rec := info.Package
		pkgs = append(pkgs, &rec)
		files = append(files, p)
	}
	if len(pkgs) < 3 {
		t.Fatalf("found %d real packages, want 3", len(pkgs))
	}
	res, err := Provision(context.Background(), Options{Arch: "x86_64", Packages: pkgs, PackageFiles: files, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bin/sh", "etc/ssl/certs/ca-certificates.crt", "etc/ssl/cert.pem", "root", "tmp"} {
		n := node(t, res.Tree, p)
		if n.UID != 0 || n.GID != 0 {
			t.Errorf("/%s is owned by %d:%d, want 0:0", p, n.UID, n.GID)
		}
	}
	if n := node(t, res.Tree, "root"); n.Mode != fs.ModeDir|0o700 {
		t.Errorf("/root mode %v, want drwx------", n.Mode)
	}
}

func readSharedDir(t *testing.T) string {
	t.Helper()
	return testenv.SharedTestdata(t)
}

// TestPackagesLock: the packages' records, through a JSON round trip (a
// build report is read back as a lock), pin the same packages: each as
// "name><checksum", the atom a lock becomes, solves to what was installed.
func TestPackagesLock(t *testing.T) {
	f, res := provisionBase(t)
	data, err := json.Marshal(res.Packages)
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []PackageReport
	if err := json.Unmarshal(data, &pkgs); err != nil {
		t.Fatal(err)
	}
	var world []apk.Dependency
	for _, p := range pkgs {
		if !strings.HasPrefix(p.Checksum, "Q1") {
			t.Fatalf("package %s-%s has checksum %q, want Q1...", p.Name, p.Version, p.Checksum)
		}
		d, err := apk.ParseDependency(p.Name + "><" + p.Checksum)
		if err != nil {
			t.Fatal(err)
		}
		world = append(world, d)
	}
	idx := []*apk.Index{f.pkgs[0].Repository}
	got, err := apk.Solve(world, idx, apk.SolveOptions{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	var a, b []string
	for _, p := range got {
		a = append(a, p.String())
	}
	for _, p := range f.pkgs {
		b = append(b, p.String())
	}
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Errorf("locked world solves to %q, want %q", a, b)
	}
}

// TestProvisionOptions: hostname, authorized keys, overlays and strict.
func TestProvisionOptions(t *testing.T) {
	pkgs := append(basePackages(t), apktest.Pkg{
		Name: "mkinitfs-ish", Version: "1-r0", Triggers: []string{"/usr/share/kernel/*"},
		Scripts: map[string]string{"trigger": "#!/bin/sh\nexec mkinitfs\n"},
		Files:   []apktest.File{{Name: "usr/share/kernel/lts/", Mode: fs.ModeDir | 0o755}},
	})
	f := newFixture(t, pkgs, append([]string{"mkinitfs-ish"}, baseWorld...)...)
	o := f.options()
	o.Hostname = "sandbox"
	o.AuthorizedKeys = []byte("ssh-ed25519 AAAA test\n")
	o.Overlays = []fs.FS{fstest.MapFS{
		"etc/motd":           &fstest.MapFile{Data: []byte("overlay motd\n"), Mode: 0o644},
		"usr/local/bin/tool": &fstest.MapFile{Data: []byte("#!/bin/sh\n"), Mode: 0o755},
	}}
	res, err := Provision(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Tree
	for p, want := range map[string]string{
		"etc/hostname":              "sandbox\n",
		"root/.ssh/authorized_keys": "ssh-ed25519 AAAA test\n",
		"etc/motd":                  "overlay motd\n",
		"usr/local/bin/tool":        "#!/bin/sh\n",
	} {
		if got := content(t, tr, p); got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string]fs.FileMode{"root/.ssh": fs.ModeDir | 0o700, "root/.ssh/authorized_keys": 0o600, "usr/local/bin/tool": 0o755} {
		if n := node(t, tr, p); n.Mode != want {
			t.Errorf("/%s mode %v, want %v", p, n.Mode, want)
		}
	}
	var trig *ScriptReport
	for i, r := range res.Scripts {
		if r.Package == "mkinitfs-ish-1-r0" && r.Script == ".trigger" {
			trig = &res.Scripts[i]
		}
	}
	if trig == nil || trig.Status != statusNotReproduced || !strings.Contains(trig.Why, "usr/share/kernel/lts") {
		t.Errorf("report on mkinitfs-ish's trigger = %+v, want not reproduced, firing for /usr/share/kernel/lts", trig)
	}
	o.Strict = true
	if _, err := Provision(context.Background(), o); err == nil || !strings.Contains(err.Error(), "strict") {
		t.Errorf("a strict run with an unreproduced trigger: %v, want an error", err)
	}
}

// TestProvisionAarch64: nothing runs, so another arch's tree is built the
// same way.
func TestProvisionAarch64(t *testing.T) {
	pkgs := basePackages(t)
	for i := range pkgs {
		pkgs[i].Arch = "aarch64"
	}
	repo := apktest.NewRepo(key(t))
	repo.Arch = "aarch64"
	for _, p := range pkgs {
		if _, err := repo.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := repo.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	client := &apk.Client{CacheDir: t.TempDir(), Keys: key(t).KeyRing(), Arch: "aarch64"}
	ctx := context.Background()
	idx, err := client.FetchIndexes(ctx, []apk.Repository{{URLs: []string{repo.URL("file://" + dir)}}})
	if err != nil {
		t.Fatal(err)
	}
	var world []apk.Dependency
	for _, a := range baseWorld {
		d, _ := apk.ParseDependency(a)
		world = append(world, d)
	}
	sel, err := apk.Solve(world, idx, apk.SolveOptions{Arch: "aarch64"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := client.FetchPackages(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Provision(ctx, Options{Arch: "aarch64", World: world, Packages: sel, PackageFiles: files, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := content(t, res.Tree, "etc/apk/arch"); got != "aarch64\n" {
		t.Errorf("/etc/apk/arch = %q, want aarch64", got)
	}
	node(t, res.Tree, "bin/ash")
}

// TestProvisionAccountFieldInjection: a package script whose adduser
// GECOS holds a newline and a passwd line fails the build, naming the
// package, the script and the field; a ':' in the home directory too.
func TestProvisionAccountFieldInjection(t *testing.T) {
	for _, tc := range []struct{ name, script, field string }{
		{"newline in gecos", "#!/bin/sh\nadduser -D -H -g \"x\nevil::0:0::/:/bin/sh\" bob\n", "gecos"},
		{"colon in home", "#!/bin/sh\nadduser -D -H -h /home/a:0:0 bob\n", "home"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs := append(basePackages(t), apktest.Pkg{Name: "evil", Version: "1-r0", Scripts: map[string]string{"pre-install": tc.script}})
			f := newFixture(t, pkgs, "alpine-baselayout", "evil")
			res, err := Provision(context.Background(), f.options())
			if err == nil {
				passwd := content(t, res.Tree, "etc/passwd")
				res.Close()
				t.Fatalf("Provision succeeded; /etc/passwd:\n%s", passwd)
			}
			t.Log(err)
			for _, w := range []string{"evil-1-r0", ".pre-install", tc.field} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}
