package build

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// planMirror serves, on 127.0.0.1, a mirror's v3.23 main (app needs lib
// through so:libx.so.1, lib needs base; app-doc comes with app and man)
// and community (empty), and an edge/testing repository (shiny needs
// base), all signed by one key. downloads counts the .apk files served.
func planMirror(t *testing.T) (srv *httptest.Server, keys *apk.KeyRing, records map[string]*apk.Package, downloads *atomic.Int64) {
	t.Helper()
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	main, community, edge := apktest.NewRepo(key), apktest.NewRepo(key), apktest.NewRepo(key)
	community.Name = "community"
	edge.Branch, edge.Name = "edge", "testing"
	records = map[string]*apk.Package{}
	for repo, pkgs := range map[*apktest.Repo][]apktest.Pkg{
		main: {
			{Name: "base", Version: "1.0-r0", Files: []apktest.File{{Name: "etc/base", Data: []byte("base\n")}}},
			{Name: "lib", Version: "2.1-r3", Depends: []string{"base"}, Provides: []string{"so:libx.so.1=2.1"},
				Files: []apktest.File{{Name: "usr/lib/libx.so.1", Data: []byte(strings.Repeat("x", 5000))}}},
			{Name: "app", Version: "0.9-r0", Depends: []string{"so:libx.so.1"}},
			{Name: "man", Version: "1-r0"},
			{Name: "app-doc", Version: "0.9-r0", InstallIf: []string{"app", "man"}},
		},
		edge: {{Name: "shiny", Version: "3.0-r0", Depends: []string{"base"}}},
	} {
		for _, p := range pkgs {
			rec, err := repo.Add(p)
			if err != nil {
				t.Fatal(err)
			}
			records[p.Name] = rec
		}
	}
	downloads = new(atomic.Int64)
	handlers := []http.Handler{main.Handler(), community.Handler(), edge.Handler()}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".apk") {
			downloads.Add(1)
		}
		for _, h := range handlers {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusNotFound {
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, key.KeyRing(), records, downloads
}

// TestPlan: a plan resolves as the build does — here failing over from a
// dead mirror — and says what each package is for, with the index's sizes,
// the repositories really read and the guest's; it downloads no package
// (the control: Fetch with the same options does).
func TestPlan(t *testing.T) {
	srv, keys, records, downloads := planMirror(t)
	opts := Options{
		Profile: "none", Packages: []string{"app", "shiny@edge", "man"}, Arch: "x86_64",
		Mirrors:      []string{"http://127.0.0.1:1", srv.URL},
		Repositories: []string{"@edge " + srv.URL + "/edge/testing"},
		Keys:         keys, CacheDir: t.TempDir(), HTTP: srv.Client(),
	}
	plan, err := Plan(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var download, installed int64
	for _, p := range plan.Packages {
		rec := records[p.Name]
		var why []string
		for _, r := range p.RequiredBy {
			s := r.By + "[" + r.Atom + "]"
			if r.InstallIf {
				s = "install_if " + s
			}
			why = append(why, s)
		}
		got = append(got, p.Name+"-"+p.Version+" "+strings.Join(why, ","))
		if p.Size != rec.Size || p.InstalledSize != rec.InstalledSize || p.Size == 0 {
			t.Errorf("Plan: %s sizes %d, %d, want the index's %d, %d", p.Name, p.Size, p.InstalledSize, rec.Size, rec.InstalledSize)
		}
		download += rec.Size
		installed += rec.InstalledSize
	}
	want := []string{
		"base-1.0-r0 lib[base],shiny[base]", "lib-2.1-r3 app[so:libx.so.1]", "app-0.9-r0 [app]",
		"man-1-r0 [man]", "app-doc-0.9-r0 install_if app[app],install_if man[man]", "shiny-3.0-r0 [shiny@edge]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Plan packages =\n%q\nwant\n%q", got, want)
	}
	if plan.DownloadBytes != download || plan.InstalledBytes != installed {
		t.Errorf("Plan totals = %d, %d, want %d, %d", plan.DownloadBytes, plan.InstalledBytes, download, installed)
	}
	wantRepos := []string{srv.URL + "/v3.23/main", srv.URL + "/v3.23/community", "@edge " + srv.URL + "/edge/testing"}
	if !reflect.DeepEqual(plan.Repositories, wantRepos) || plan.Packages[0].Repository != wantRepos[0] {
		t.Errorf("Plan repositories = %q (base from %q), want the mirror that answered: %q", plan.Repositories, plan.Packages[0].Repository, wantRepos)
	}
	wantGuest := []string{DefaultMirror + "/v3.23/main", DefaultMirror + "/v3.23/community", "@edge " + DefaultMirror + "/edge/testing"}
	if !reflect.DeepEqual(plan.GuestRepositories, wantGuest) {
		t.Errorf("Plan guest repositories = %q, want %q", plan.GuestRepositories, wantGuest)
	}
	if n := downloads.Load(); n != 0 {
		t.Errorf("Plan downloaded %d packages, want none", n)
	}
	if plan.CachedBytes != 0 {
		t.Errorf("Plan on a cold cache: %d bytes cached, want none", plan.CachedBytes)
	}
	if _, err := Fetch(context.Background(), opts, ""); err != nil || downloads.Load() == 0 {
		t.Errorf("Fetch of the same options = %v after %d downloads; want the control to download", err, downloads.Load())
	}
	if again, err := Plan(context.Background(), opts); err != nil || again.CachedBytes != again.DownloadBytes || !again.Packages[0].Cached {
		t.Errorf("Plan after Fetch = %v, %d of %d bytes cached; want all", err, again.CachedBytes, again.DownloadBytes)
	}

	// A lock explains its packages by the world it records, not by its
	// checksum atoms. (Without the tagged package: a lock's checksum
	// atoms carry no tag, so a locked package from a tagged repository
	// is masked; that is the lock's to fix.)
	opts.Packages = []string{"app", "man"}
	if plan, err = Plan(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	lock := &Report{Arch: "x86_64", World: plan.World}
	for _, p := range plan.Packages {
		lock.Packages = append(lock.Packages, provisionReport(records[p.Name]))
	}
	opts.Packages, opts.Profile, opts.Lock = nil, "", lock
	locked, err := Plan(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// (in the lock's own install order, as the build installs it)
	byName := func(a, b PlannedPackage) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(locked.Packages, byName)
	slices.SortFunc(plan.Packages, byName)
	if !reflect.DeepEqual(locked.Packages, plan.Packages) {
		t.Errorf("Plan of its own lock =\n%+v\nwant\n%+v", locked.Packages, plan.Packages)
	}
}

// TestPlanWhy: the chains from the world, shortest first.
func TestPlanWhy(t *testing.T) {
	plan := &PlanResult{World: []string{"app", "shiny@edge", "man"}, Packages: []PlannedPackage{
		{Name: "base", RequiredBy: []Requirement{{By: "lib", Atom: "base"}, {By: "shiny", Atom: "base"}}},
		{Name: "lib", RequiredBy: []Requirement{{By: "app", Atom: "so:libx.so.1"}}},
		{Name: "app", RequiredBy: []Requirement{{Atom: "app"}}},
		{Name: "man", RequiredBy: []Requirement{{Atom: "man"}}},
		{Name: "app-doc", RequiredBy: []Requirement{{By: "app", Atom: "app", InstallIf: true}, {By: "man", Atom: "man", InstallIf: true}}},
		{Name: "shiny", RequiredBy: []Requirement{{Atom: "shiny@edge"}}},
	}}
	tests := []struct {
		name string
		want string
	}{
		{"base", "shiny@edge:shiny base:base | app:app so:libx.so.1:lib base:base"},
		{"app", "app:app"},
		{"app-doc", "app:app app:app-doc(install_if) | man:man man:app-doc(install_if)"},
	}
	for _, tt := range tests {
		chains, err := plan.Why(tt.name)
		var got []string
		for _, c := range chains {
			var steps []string
			for _, s := range c {
				st := s.Atom + ":" + s.Package
				if s.InstallIf {
					st += "(install_if)"
				}
				steps = append(steps, st)
			}
			got = append(got, strings.Join(steps, " "))
		}
		if g := strings.Join(got, " | "); err != nil || g != tt.want {
			t.Errorf("Why(%s) = %q, %v, want %q", tt.name, g, err, tt.want)
		}
	}
	if _, err := plan.Why("gone"); err == nil || !strings.Contains(err.Error(), `"gone"`) {
		t.Errorf("Why(gone) = %v, want an error naming it", err)
	}
}

// TestGuestRepositories: the image's /etc/apk/repositories for the
// build's repositories and world.
func TestGuestRepositories(t *testing.T) {
	cdn := DefaultMirror + "/v3.23/"
	repo := func(line string) apk.Repository {
		r, err := apk.ParseRepository(line)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	local := []apk.Repository{repo("http://127.0.0.1:8080/alpine/v3.23/main"), repo("file:///srv/m/v3.23/community")}
	tests := []struct {
		name    string
		given   []string
		repos   []apk.Repository
		world   string
		want    []string
		wantErr string
	}{
		{"local mirror", nil, local, "app", []string{cdn + "main", cdn + "community"}, ""},
		{"another mirror", nil, []apk.Repository{repo("https://mirror.example.org/alpine/v3.23/main")}, "app",
			[]string{cdn + "main", cdn + "community"}, ""},
		{"tag on this machine", nil, append(local, repo("@edge http://localhost:9/edge/testing")), "app foo@edge",
			[]string{cdn + "main", cdn + "community", "@edge " + DefaultMirror + "/edge/testing"}, ""},
		{"tag on a directory", nil, append(local, repo("@edge "+filepath.Join(t.TempDir(), "edge", "community"))), "foo@edge",
			[]string{cdn + "main", cdn + "community", "@edge " + DefaultMirror + "/edge/community"}, ""},
		{"tag on the network", nil, append(local, repo("@mine http://[::1]:1/x/y https://pkgs.example.org/apk")), "foo@mine",
			[]string{cdn + "main", cdn + "community", "@mine https://pkgs.example.org/apk"}, ""},
		{"local tag without a branch", nil, append(local, repo("@mine http://127.0.0.1:1/apk")), "foo@mine",
			nil, "the world pins @mine"},
		{"given", []string{"https://m.example.org/alpine/v3.23/main", " @edge https://m.example.org/alpine/edge/testing "},
			local, "foo@edge", []string{"https://m.example.org/alpine/v3.23/main", "@edge https://m.example.org/alpine/edge/testing"}, ""},
		{"given on this machine", []string{"file:///srv/m/v3.23/main"}, local, "app", []string{"file:///srv/m/v3.23/main"}, ""},
		{"given none", []string{}, local, "app", []string{}, ""},
		{"given without the tag", []string{cdn + "main"}, local, "app foo@edge", nil, "no @edge line, and the world pins foo@edge"},
		{"given two URLs", []string{cdn + "main https://m.example.org/v3.23/main"}, local, "app", nil, "one URL per line"},
		{"given a line break", []string{cdn + "main\n@evil http://x"}, local, "app", nil, "control character"},
		{"given nonsense", []string{"v3 " + cdn + "main"}, local, "app", nil, "not supported"},
	}
	for _, tt := range tests {
		var world []apk.Dependency
		for _, a := range strings.Fields(tt.world) {
			d, err := apk.ParseWorldAtom(a)
			if err != nil {
				t.Fatal(err)
			}
			world = append(world, d)
		}
		got, err := guestRepositories(tt.given, tt.repos, world, "v3.23")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrUsage) {
				t.Errorf("%s: guestRepositories = %q, %v, want a usage error saying %q", tt.name, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: guestRepositories = %q, %v, want %q", tt.name, got, err, tt.want)
		}
	}
}

// provisionReport is a package as a build report lists it.
func provisionReport(p *apk.Package) provision.PackageReport {
	return provision.PackageReport{Name: p.Name, Version: p.Version, Arch: p.Arch, Checksum: apk.FormatChecksum(p.Checksum), Size: p.Size}
}

// TestResolveLeavesGuestAlone: a world pinned to a repository on this
// machine that names no <branch>/<repo> has no guest line to derive; the
// build and its plan refuse it until the guest's line is given, and
// Resolve, which writes no guest, does not ask.
func TestResolveLeavesGuestAlone(t *testing.T) {
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	repo := apktest.NewRepo(key)
	repo.Branch, repo.Name = "", "only"
	if _, err := repo.Add(apktest.Pkg{Name: "shiny", Version: "3.0-r0"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(repo.Handler())
	t.Cleanup(srv.Close)
	opts := Options{
		Profile: "none", Packages: []string{"shiny@t"}, Arch: "x86_64", Mirrors: []string{"none"},
		Repositories: []string{"@t " + srv.URL + "/only"},
		Keys:         key.KeyRing(), CacheDir: t.TempDir(), HTTP: srv.Client(),
	}
	if _, err := Plan(context.Background(), opts); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "give the guest's @t line") {
		t.Errorf("Plan = %v, want a usage error asking for the guest's @t line", err)
	}
	if res, err := Resolve(context.Background(), opts); err != nil || len(res.Packages) != 1 || res.GuestRepositories != nil {
		t.Errorf("Resolve = %+v, %v; want shiny and no guest repositories", res, err)
	}
	opts.GuestRepositories = []string{"@t https://pkgs.example.org/only"}
	if res, err := Plan(context.Background(), opts); err != nil || !reflect.DeepEqual(res.GuestRepositories, opts.GuestRepositories) {
		t.Errorf("Plan with the guest's line = %+v, %v; want it planned with that line", res, err)
	}
}
