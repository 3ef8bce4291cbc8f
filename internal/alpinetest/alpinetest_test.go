package alpinetest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

var (
	keyOnce sync.Once
	key     *apktest.Key
)

// testKey is one throwaway key for the whole test binary (RSA key
// generation is the slow part of building a repository).
func testKey(t *testing.T) *apktest.Key {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if key, err = apktest.NewKey("alpinetest"); err != nil {
			t.Fatal(err)
		}
	})
	return key
}

func baseRepos(t *testing.T, opts alpinetest.Options) *alpinetest.Repos {
	t.Helper()
	opts.Testdata = testenv.SharedTestdata(t)
	opts.Key = testKey(t)
	r, err := alpinetest.Base(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// indexes reads both indexes back as apk would: verified with the key.
func indexes(t *testing.T, r *alpinetest.Repos) []*apk.Index {
	t.Helper()
	var out []*apk.Index
	for _, repo := range []*apktest.Repo{r.Main, r.Community} {
		archive, err := repo.IndexArchive()
		if err != nil {
			t.Fatal(err)
		}
		idx, err := apk.ReadIndexArchive(bytes.NewReader(archive), r.KeyRing(), apk.IndexOptions{Source: repo.Name})
		if err != nil {
			t.Fatalf("ReadIndexArchive(%s) = %v", repo.Name, err)
		}
		if !idx.Trusted || idx.SignedBy != r.Key.Name {
			t.Errorf("index %s: trusted %v signed by %q, want trusted by %q", repo.Name, idx.Trusted, idx.SignedBy, r.Key.Name)
		}
		out = append(out, idx)
	}
	return out
}

func names(pkgs []*apk.Package) []string {
	var n []string
	for _, p := range pkgs {
		n = append(n, p.Name)
	}
	return n
}

// TestBaseResolves: the indexes verify with the test key, and worlds
// resolve as they would against the real mirror: busybox-binsh provides
// /bin/sh, libc-utils is musl-utils, the replacing package comes after
// the one it replaces, a community package resolves from community.
func TestBaseResolves(t *testing.T) {
	r := baseRepos(t, alpinetest.Options{})
	idx := indexes(t, r)
	for _, tt := range []struct {
		world []string
		want  []string
	}{
		{[]string{"alpine-baselayout", "busybox", "busybox-suid", "busybox-binsh"},
			[]string{"alpine-baselayout-data", "musl", "busybox", "busybox-binsh", "alpine-baselayout", "busybox-suid"}},
		{[]string{"libc-utils"}, []string{"musl", "scanelf", "musl-utils"}},
		{[]string{"apk-tools"}, []string{"ca-certificates-bundle", "musl", "libapk", "apk-tools"}},
		{[]string{alpinetest.ReplacingPackage}, []string{alpinetest.ReplacedPackage, alpinetest.ReplacingPackage}},
		{[]string{alpinetest.UserPackage}, []string{"musl", "busybox", "busybox-binsh", alpinetest.UserPackage}},
		{[]string{alpinetest.CommunityPackage}, []string{"musl", "busybox", alpinetest.CommunityPackage}},
	} {
		var world []apk.Dependency
		for _, a := range tt.world {
			d, err := apk.ParseDependency(a)
			if err != nil {
				t.Fatal(err)
			}
			world = append(world, d)
		}
		got, err := apk.Solve(world, idx, apk.SolveOptions{})
		if err != nil {
			t.Errorf("Solve(%v) = %v", tt.world, err)
			continue
		}
		if !slices.Equal(names(got), tt.want) {
			t.Errorf("Solve(%v) = %v, want %v", tt.world, names(got), tt.want)
		}
	}
	all, err := apk.Solve(deps(t, alpinetest.BaseWorld), idx, apk.SolveOptions{})
	if err != nil {
		t.Fatalf("Solve(BaseWorld) = %v", err)
	}
	if len(all) != 12 {
		t.Errorf("Solve(BaseWorld) = %v, want the 12 base packages", names(all))
	}
	if c, _ := r.Lookup(alpinetest.CommunityPackage); c.Record.Repository != nil {
		t.Errorf("built records should not point at an index")
	}
	for _, p := range idx[1].Packages {
		if p.Name != alpinetest.CommunityPackage {
			t.Errorf("community holds %s, want only %s", p.Name, alpinetest.CommunityPackage)
		}
	}
}

func deps(t *testing.T, atoms []string) []apk.Dependency {
	t.Helper()
	var out []apk.Dependency
	for _, a := range atoms {
		d, err := apk.ParseDependency(a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// entry is what a package's data says about one path.
type entry struct {
	typ          byte
	mode         int64
	uname, gname string
	uid, gid     int
	link         string
	data         string
}

// readPackage verifies a built package against its index record and its
// signature with the apk package's reader, and returns its entries.
func readPackage(t *testing.T, r *alpinetest.Repos, name string) (*apk.PackageInfo, map[string]entry) {
	t.Helper()
	b, ok := r.Lookup(name)
	if !ok {
		t.Fatalf("no package %s", name)
	}
	if _, err := apk.VerifyPackage(bytes.NewReader(b.Data), b.Record); err != nil {
		t.Fatalf("VerifyPackage(%s) = %v", name, err)
	}
	pr, err := apk.NewPackageReader(bytes.NewReader(b.Data), b.Record)
	if err != nil {
		t.Fatal(err)
	}
	if signer, err := pr.VerifySignature(r.KeyRing()); err != nil || signer != r.Key.Name {
		t.Errorf("%s: VerifySignature = %q, %v; want %q", name, signer, err, r.Key.Name)
	}
	entries := map[string]entry{}
	for {
		hdr, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		data, err := io.ReadAll(pr)
		if err != nil {
			t.Fatalf("reading %s %s: %v", name, hdr.Name, err)
		}
		entries[strings.TrimSuffix(hdr.Name, "/")] = entry{typ: hdr.Typeflag, mode: hdr.Mode, uname: hdr.Uname, gname: hdr.Gname,
			uid: hdr.Uid, gid: hdr.Gid, link: hdr.Linkname, data: string(data)}
	}
	return pr.Info(), entries
}

// TestBasePackagesLookLikeAlpine: every package verifies (datahash,
// per-file SHA-1, signature, the index's C:), and carries what Alpine's
// does: the real modes of the skeleton, shadow 0640 root:shadow by name,
// the real /etc files and 304-line busybox list from the shared data,
// Alpine's script texts, the throwaway key where apk looks for keys.
func TestBasePackagesLookLikeAlpine(t *testing.T) {
	r := baseRepos(t, alpinetest.Options{})
	td := testenv.SharedTestdata(t)
	for _, repo := range []*apktest.Repo{r.Main, r.Community} {
		for _, b := range repo.Packages {
			readPackage(t, r, b.Record.Name)
		}
	}

	blInfo, bl := readPackage(t, r, "alpine-baselayout")
	for _, tt := range []struct {
		path string
		typ  byte
		mode int64
		link string
	}{
		{"root", tar.TypeDir, 0o700, ""},
		{"tmp", tar.TypeDir, 0o1777, ""},
		{"var/tmp", tar.TypeDir, 0o1777, ""},
		{"var/empty", tar.TypeDir, 0o555, ""},
		{"proc", tar.TypeDir, 0o755, ""},
		{"dev/pts", tar.TypeDir, 0o755, ""},
		{"etc/crontabs/root", tar.TypeReg, 0o600, ""},
		{"var/run", tar.TypeSymlink, 0o777, "../run"},
		{"var/lock", tar.TypeSymlink, 0o777, "../run/lock"},
		{"var/spool/mail", tar.TypeSymlink, 0o777, "../mail"},
		{"var/spool/cron/crontabs", tar.TypeSymlink, 0o777, "../../../etc/crontabs"},
	} {
		e, ok := bl[tt.path]
		if got := fmt.Sprintf("%c %o %s", e.typ, e.mode, e.link); !ok || got != fmt.Sprintf("%c %o %s", tt.typ, tt.mode, tt.link) {
			t.Errorf("alpine-baselayout %s = %q (present %v), want %c %o %s", tt.path, got, ok, tt.typ, tt.mode, tt.link)
		}
	}
	wantScripts(t, blInfo, map[string]string{
		".pre-install": alpinetest.BaselayoutPreInstall, ".post-install": alpinetest.BaselayoutPostInstall})
	if !strings.Contains(alpinetest.BaselayoutPreInstall, "addgroup -S -g 42 shadow") {
		t.Error("baselayout's pre-install lost its addgroup line")
	}

	_, data := readPackage(t, r, "alpine-baselayout-data")
	if e := data["etc/shadow"]; e.mode != 0o640 || e.uname != "root" || e.gname != "shadow" || e.uid != 0 || e.gid != 0 {
		t.Errorf("etc/shadow = %o %s(%d):%s(%d), want 0640 root(0):shadow(0), the names abuild writes", e.mode, e.uname, e.uid, e.gname, e.gid)
	}
	for _, name := range []string{"passwd", "group", "shadow", "inittab", "fstab", "hostname", "profile"} {
		real, err := os.ReadFile(filepath.Join(td, "minirootfs-3.20.3/etc", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := data["etc/"+name].data; got != string(real) {
			t.Errorf("etc/%s = %q, want the real 3.20.3 file", name, short(got))
		}
	}

	bbInfo, bb := readPackage(t, r, "busybox")
	list := bb["etc/busybox-paths.d/busybox"].data
	if n := strings.Count(list, "\n"); n != 304 || !strings.Contains(list, "sbin/init\n") || !strings.Contains(list, "bin/sh\n") {
		t.Errorf("busybox-paths.d/busybox has %d lines (sbin/init, bin/sh present: %v), want the real 304", n,
			strings.Contains(list, "sbin/init\n"))
	}
	if !slices.Equal(bbInfo.Triggers, alpinetest.BusyboxTriggers) ||
		strings.Join(bbInfo.Triggers, " ") != "/bin /usr/bin /sbin /usr/sbin /lib/modules/* /usr/lib/modules/*" {
		t.Errorf("busybox triggers = %q", bbInfo.Triggers)
	}
	wantScripts(t, bbInfo, map[string]string{".post-install": alpinetest.BusyboxPostInstall, ".trigger": alpinetest.BusyboxTrigger})
	if e := bb["etc/network/if-up.d/dad"]; e.mode != 0o775 {
		t.Errorf("busybox etc/network/if-up.d/dad mode %o, want 0775", e.mode)
	}
	if e := bb["bin/busybox"]; e.mode != 0o755 || !strings.HasPrefix(e.data, "\x7fELF placeholder") {
		t.Errorf("non-bootable bin/busybox = %o %q, want a 0755 placeholder", e.mode, short(e.data))
	}

	_, suid := readPackage(t, r, "busybox-suid")
	if e := suid["bin/bbsuid"]; e.mode != 0o4111 {
		t.Errorf("bin/bbsuid mode %o, want 04111", e.mode)
	}
	binshInfo, binsh := readPackage(t, r, "busybox-binsh")
	if e := binsh["bin/sh"]; e.typ != tar.TypeSymlink || e.link != "/bin/busybox" {
		t.Errorf("bin/sh = %c -> %s, want a symlink to /bin/busybox", e.typ, e.link)
	}
	if !binshInfo.HasProviderPriority || binshInfo.ProviderPriority != 100 || binshInfo.Provides[0].Name != "/bin/sh" {
		t.Errorf("busybox-binsh provides %v priority %d, want /bin/sh at 100", binshInfo.Provides, binshInfo.ProviderPriority)
	}

	_, keys := readPackage(t, r, "alpine-keys")
	for _, p := range []string{"etc/apk/keys/" + r.Key.Name, "usr/share/apk/keys/" + r.Key.Name} {
		if keys[p].data != string(r.Key.PublicPEM()) {
			t.Errorf("alpine-keys %s is not the test key", p)
		}
	}

	svcInfo, svc := readPackage(t, r, alpinetest.UserPackage)
	wantScripts(t, svcInfo, map[string]string{".pre-install": alpinetest.UserPreInstall})
	if !strings.Contains(alpinetest.UserPreInstall, "adduser -S -D -H -h /var/lib/svc -s /sbin/nologin -G svc -g svc svc") {
		t.Error("the user package's pre-install lost its adduser line")
	}
	for _, p := range []string{"var/lib/svc", "var/lib/svc/state"} {
		if e := svc[p]; e.uname != "svc" || e.gname != "svc" || e.uid != 0 || e.gid != 0 {
			t.Errorf("%s %s owned by %s(%d):%s(%d), want svc(0):svc(0)", alpinetest.UserPackage, p, e.uname, e.uid, e.gname, e.gid)
		}
	}

	repInfo, rep := readPackage(t, r, alpinetest.ReplacingPackage)
	_, old := readPackage(t, r, alpinetest.ReplacedPackage)
	if len(repInfo.Replaces) != 1 || repInfo.Replaces[0].Name != alpinetest.ReplacedPackage ||
		rep[alpinetest.ReplacedPath].data == old[alpinetest.ReplacedPath].data || old[alpinetest.ReplacedPath].data == "" {
		t.Errorf("%s replaces %v and ships %q (the replaced one %q), want replaces %s with its own content",
			alpinetest.ReplacingPackage, repInfo.Replaces, rep[alpinetest.ReplacedPath].data, old[alpinetest.ReplacedPath].data, alpinetest.ReplacedPackage)
	}
}

func wantScripts(t *testing.T, info *apk.PackageInfo, want map[string]string) {
	t.Helper()
	if len(info.Scripts) != len(want) {
		t.Errorf("%s scripts = %d, want %d", info.Name, len(info.Scripts), len(want))
	}
	for name, body := range want {
		if string(info.Scripts[name]) != body {
			t.Errorf("%s %s = %q, want %q", info.Name, name, short(string(info.Scripts[name])), short(body))
		}
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// TestBootableBusybox: with Bootable, bin/busybox is the host's static
// busybox byte for byte, and so is bin/bbsuid (still 04111), so that the
// bbsuid links (/bin/mount, ...) run.
func TestBootableBusybox(t *testing.T) {
	host, err := os.ReadFile("/bin/busybox")
	if err != nil {
		if testenv.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	r := baseRepos(t, alpinetest.Options{Bootable: true})
	_, bb := readPackage(t, r, "busybox")
	if got := bb["bin/busybox"].data; got != string(host) {
		t.Errorf("bootable bin/busybox has %d bytes, want the host's %d", len(got), len(host))
	}
	_, suid := readPackage(t, r, "busybox-suid")
	if e := suid["bin/bbsuid"]; e.data != string(host) || e.mode != 0o4111 {
		t.Errorf("bootable bin/bbsuid has %d bytes, mode %o; want the host's busybox (%d), 04111", len(e.data), e.mode, len(host))
	}
}

// TestServedLikeAMirror: one server serves both repositories at
// <base>/v3.23/<repo>/x86_64/, and the apk client fetches, verifies and
// solves through it.
func TestServedLikeAMirror(t *testing.T) {
	r := baseRepos(t, alpinetest.Options{})
	srv := r.NewServer()
	defer srv.Close()
	wantServed(t, srv.URL,
		"/v3.23/main/x86_64/APKINDEX.tar.gz",
		"/v3.23/community/x86_64/APKINDEX.tar.gz",
		"/v3.23/main/x86_64/busybox-1.37.0-r30.apk",
		"/v3.23/community/x86_64/testcommunity-2.0-r1.apk")
	if got, want := r.URLs(srv.URL), []string{srv.URL + "/v3.23/main", srv.URL + "/v3.23/community"}; !slices.Equal(got, want) {
		t.Errorf("URLs = %v, want %v", got, want)
	}
	resp, err := http.Get(srv.URL + "/v3.23/testing/x86_64/APKINDEX.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET of an unknown repository = %s, want 404", resp.Status)
	}
}

// wantServed fails t unless every path is served below base with 200.
func wantServed(t *testing.T, base string, paths ...string) {
	t.Helper()
	for _, u := range paths {
		resp, err := http.Get(base + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %s, want 200", u, resp.Status)
		}
	}
}

// TestScale: a small scale repository has the asked-for mix (file count,
// bytes within 1%, ~10% symlinks, hard links), compresses about 2.5:1,
// resolves through bench-world, and is the same on every build.
func TestScale(t *testing.T) {
	s := alpinetest.Scale{Packages: 12, Files: 1500, Bytes: 6_000_000, Seed: 7}
	r := baseRepos(t, alpinetest.Options{Scale: s})
	idx := indexes(t, r)
	got, err := apk.Solve(deps(t, []string{alpinetest.ScaleWorld}), idx, apk.SolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12+12+1 {
		t.Errorf("Solve(bench-world) installs %d packages, want 12 base + 12 synthetic + the world", len(got))
	}
	var files, symlinks, hardlinks int
	var bytesUnpacked, bytesPacked int64
	for i := range s.Packages {
		name := alpinetest.ScaleName(i)
		b, _ := r.Lookup(name)
		bytesPacked += b.Record.Size
		_, entries := readPackage(t, r, name)
		for _, e := range entries {
			switch e.typ {
			case tar.TypeReg:
				files++
				bytesUnpacked += int64(len(e.data))
			case tar.TypeSymlink:
				symlinks++
			case tar.TypeLink:
				hardlinks++
			}
		}
	}
	if n := files + symlinks + hardlinks; n != s.Files {
		t.Errorf("non-directory entries = %d, want %d", n, s.Files)
	}
	if symlinks < s.Files/12 || symlinks > s.Files/8 || hardlinks == 0 {
		t.Errorf("symlinks %d, hard links %d of %d, want ~10%% and a few", symlinks, hardlinks, s.Files)
	}
	if d := bytesUnpacked - s.Bytes; d < -s.Bytes/100 || d > s.Bytes/100 {
		t.Errorf("unpacked bytes = %d, want %d ± 1%%", bytesUnpacked, s.Bytes)
	}
	ratio := float64(bytesUnpacked) / float64(bytesPacked)
	if ratio < 2.2 || ratio > 2.9 {
		t.Errorf("compression ratio = %.2f, want about 2.5", ratio)
	}
	t.Logf("%d files, %d symlinks, %d hard links, %d bytes unpacked, ratio %.2f", files, symlinks, hardlinks, bytesUnpacked, ratio)

	again := baseRepos(t, alpinetest.Options{Scale: s})
	for i := range s.Packages {
		a, _ := r.Lookup(alpinetest.ScaleName(i))
		b, _ := again.Lookup(alpinetest.ScaleName(i))
		if !bytes.Equal(a.Data, b.Data) {
			t.Errorf("%s differs between two builds", alpinetest.ScaleName(i))
		}
	}
}

// TestWriteMirror: the streamed mirror holds the same packages as the
// in-memory build, byte for byte, its indexes verify, and the key is
// written beside them.
func TestWriteMirror(t *testing.T) {
	s := alpinetest.Scale{Packages: 4, Files: 300, Bytes: 3_000_000}
	dir := t.TempDir()
	opts := alpinetest.Options{Testdata: testenv.SharedTestdata(t), Key: testKey(t), Scale: s}
	w, err := alpinetest.WriteMirror(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	mem := baseRepos(t, alpinetest.Options{Scale: s})
	ring := apk.NewKeyRing()
	if err := ring.AddDir(dir); err != nil {
		t.Fatalf("reading the written key: %v", err)
	}
	for _, repo := range []*apktest.Repo{mem.Main, mem.Community} {
		base := filepath.Join(dir, "v3.23", repo.Name, "x86_64")
		f, err := os.Open(filepath.Join(base, "APKINDEX.tar.gz"))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := apk.ReadIndexArchive(f, ring, apk.IndexOptions{})
		f.Close()
		if err != nil {
			t.Fatalf("written %s index: %v", repo.Name, err)
		}
		if len(idx.Packages) != len(repo.Packages) {
			t.Errorf("written %s index has %d packages, want %d", repo.Name, len(idx.Packages), len(repo.Packages))
		}
		for _, b := range repo.Packages {
			data, err := os.ReadFile(filepath.Join(base, b.FileName()))
			if err != nil || !bytes.Equal(data, b.Data) {
				t.Errorf("written %s (err %v) differs from the in-memory build", b.FileName(), err)
			}
		}
	}
	if len(w.Main.Packages) != len(mem.Main.Packages) || w.Main.Packages[0].Data != nil {
		t.Errorf("WriteMirror returned %d main records (data kept: %v), want %d without data",
			len(w.Main.Packages), w.Main.Packages[0].Data != nil, len(mem.Main.Packages))
	}
	st, err := os.Stat(filepath.Join(dir, testKey(t).Name))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("key file: %v %v", st, err)
	}
}

// TestOptionsErrors: missing reference data is a clear error, not a
// half-built repository.
func TestOptionsErrors(t *testing.T) {
	for _, tt := range []struct {
		opts alpinetest.Options
		want string
	}{
		{alpinetest.Options{Key: testKey(t)}, "Options.Testdata is required"},
		{alpinetest.Options{Key: testKey(t), Testdata: t.TempDir()}, "reading reference data"},
		{alpinetest.Options{Key: testKey(t), Testdata: testenv.SharedTestdata(t), Bootable: true, BusyboxPath: "/nonexistent/busybox"},
			"reading the static busybox"},
		{alpinetest.Options{Key: testKey(t), Testdata: testenv.SharedTestdata(t), Scale: alpinetest.Scale{Packages: 5, Files: 3, Bytes: 10}},
			"scale:"},
	} {
		_, err := alpinetest.Base(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Base(%+v) = %v, want an error containing %q", tt.opts.Scale, err, tt.want)
		}
	}
}

// TestClientFetchesFromServedMirror: the project's own apk client, trusting
// only the test key, fetches both indexes from the served mirror, solves
// a world spanning main and community, and downloads and verifies every
// package into its cache.
func TestClientFetchesFromServedMirror(t *testing.T) {
	r := baseRepos(t, alpinetest.Options{})
	srv := r.NewServer()
	defer srv.Close()
	var repos []apk.Repository
	for _, u := range r.URLs(srv.URL) {
		repo, err := apk.ParseRepository(u)
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, repo)
	}
	c := &apk.Client{CacheDir: t.TempDir(), Keys: r.KeyRing(), Arch: alpinetest.Arch, Retries: -1}
	ctx := context.Background()
	idx, err := c.FetchIndexes(ctx, repos)
	if err != nil {
		t.Fatalf("FetchIndexes = %v", err)
	}
	world := deps(t, append(slices.Clone(alpinetest.BaseWorld), alpinetest.UserPackage, alpinetest.ReplacingPackage, alpinetest.CommunityPackage))
	pkgs, err := apk.Solve(world, idx, apk.SolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := c.FetchPackages(ctx, pkgs)
	if err != nil {
		t.Fatalf("FetchPackages = %v", err)
	}
	if len(files) != len(pkgs) || len(pkgs) != 16 {
		t.Errorf("fetched %d files for %d packages, want 16", len(files), len(pkgs))
	}
}

// TestOtherArch: with Options.Arch aarch64 the repositories are served at
// <base>/v3.23/<repo>/aarch64/, every package is aarch64 or noarch, musl's
// loader and so: name carry the arch, and the base world solves for
// aarch64 and for nothing else; a bootable one carries the given busybox.
func TestOtherArch(t *testing.T) {
	bbPath := filepath.Join(t.TempDir(), "busybox-aarch64")
	bbData := "\x7fELF stand-in for an aarch64 busybox\n"
	if err := os.WriteFile(bbPath, []byte(bbData), 0o755); err != nil {
		t.Fatal(err)
	}
	r := baseRepos(t, alpinetest.Options{Arch: "aarch64", Bootable: true, BusyboxPath: bbPath})
	srv := r.NewServer()
	defer srv.Close()
	wantServed(t, srv.URL, "/v3.23/main/aarch64/APKINDEX.tar.gz", "/v3.23/main/aarch64/busybox-1.37.0-r30.apk")
	idx := indexes(t, r)
	for _, i := range idx {
		for _, p := range i.Packages {
			if p.Arch != "aarch64" && p.Arch != "noarch" {
				t.Errorf("%s has arch %q, want aarch64 or noarch", p.Name, p.Arch)
			}
		}
	}
	world := deps(t, alpinetest.BaseWorld)
	if _, err := apk.Solve(world, idx, apk.SolveOptions{Arch: "aarch64"}); err != nil {
		t.Errorf("Solve(base world, aarch64) = %v", err)
	}
	if _, err := apk.Solve(world, idx, apk.SolveOptions{Arch: "x86_64"}); err == nil {
		t.Error("Solve(base world, x86_64) of an aarch64 repository succeeded, want an arch refusal")
	}
	musl, m := readPackage(t, r, "musl")
	if len(musl.Provides) != 1 || musl.Provides[0].Name != "so:libc.musl-aarch64.so.1" || m["lib/ld-musl-aarch64.so.1"].mode != 0o755 {
		t.Errorf("musl provides %v, lib/ld-musl-aarch64.so.1 mode %o; want the aarch64 loader", musl.Provides, m["lib/ld-musl-aarch64.so.1"].mode)
	}
	if _, bb := readPackage(t, r, "busybox"); bb["bin/busybox"].data != bbData {
		t.Errorf("bootable bin/busybox = %q, want the given file's", short(bb["bin/busybox"].data))
	}
}
