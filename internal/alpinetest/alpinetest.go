// Package alpinetest builds, for tests and benchmarks, signed repositories
// shaped like the Alpine v3.23 mirror — main and community for x86_64, or
// for another arch (Options.Arch) —
// whose packages look like Alpine's base: alpine-baselayout with the real
// directory skeleton, modes and scripts, alpine-baselayout-data with the
// real 3.20.3 /etc files, busybox with the real 304-entry applet list and
// Alpine's real post-install and trigger texts, busybox-suid,
// busybox-binsh, musl, alpine-keys holding the test key, apk-tools,
// ca-certificates-bundle, musl-utils, plus test-shaped extras (a package
// that adds a system user and owns files by that user's name, one that
// replaces another's file, one in community). Packages are built with
// apk/apktest and signed with a throwaway key, so the whole trust chain
// (index signature, C: checksum, datahash, per-file SHA-1) is real.
//
// With Options.Bootable, bin/busybox is the build machine's static
// busybox (Debian's busybox-static), and so is bin/bbsuid (busybox runs
// the applet its link is named after, so /bin/mount -> /bin/bbsuid works),
// so an image built from the repository boots; otherwise both are small
// placeholders. Options.Scale adds synthetic
// packages with a realistic file mix for benchmarks (see Balanced).
//
// The real reference data (the /etc files of the 3.20.3 minirootfs, the
// busybox paths list) is read from the shared test data directory at
// build time and never copied into this repository.
//
// Left out on purpose: real compiled programs (musl,
// apk and the rest are placeholders; nothing here runs but busybox),
// upgrade scripts (a fresh root never runs them), and the v3 ADB formats.
package alpinetest

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// Branch and Arch are the mirror branch and the default architecture the
// repositories are laid out for: <base>/v3.23/main/x86_64/APKINDEX.tar.gz.
const (
	Branch = "v3.23"
	Arch   = "x86_64"
)

// Names of the test-shaped extra packages.
const (
	// UserPackage's .pre-install adds the system group and user UserName
	// (home /var/lib/svc), and its files under /var/lib/svc are owned by
	// that user by name (uname/gname svc, uid/gid 0, as abuild writes them).
	UserPackage = "testsvc"
	UserName    = "svc"

	// ReplacingPackage replaces ReplacedPackage (replaces = testconf) and
	// ships the same file, ReplacedPath, with different content; it
	// depends on ReplacedPackage, so it is installed after it and its copy
	// wins.
	ReplacedPackage  = "testconf"
	ReplacingPackage = "testconf-vendor"
	ReplacedPath     = "etc/testconf.conf"

	// CommunityPackage is the one package in community.
	CommunityPackage = "testcommunity"
)

// BaseWorld is a world that pulls in every base package (not the extras).
var BaseWorld = []string{
	"alpine-baselayout", "alpine-keys", "apk-tools", "busybox", "busybox-suid",
	"busybox-binsh", "musl-utils", "ca-certificates-bundle",
}

// Options say what to build. Testdata is required; the zero value of the
// rest builds a small, non-bootable repository with a new key.
type Options struct {
	// Testdata is the shared reference data directory (../shared/testdata
	// seen from the repository root; testenv.SharedTestdata in tests).
	Testdata string

	// Key signs everything; nil makes a new throwaway key.
	Key *apktest.Key

	// Arch is the repositories' architecture (their directory, the
	// packages' A: and musl's so: name); "" is Arch. Nothing built runs
	// but busybox, so for a bootable repository of another arch
	// BusyboxPath names a static busybox built for it.
	Arch string

	// Bootable puts the static busybox at BusyboxPath (default
	// /bin/busybox) into the busybox package instead of a placeholder.
	Bootable    bool
	BusyboxPath string

	// Extra packages are added to main after the base ones.
	Extra []apktest.Pkg

	// Scale adds synthetic packages to main (none when zero).
	Scale Scale
}

// Repos are the generated repositories and the key that signed them.
type Repos struct {
	Key       *apktest.Key
	Main      *apktest.Repo
	Community *apktest.Repo
}

// Base builds the repositories in memory. For large scales prefer
// WriteMirror, which never holds all packages at once.
func Base(opts Options) (*Repos, error) {
	r, err := newRepos(opts)
	if err != nil {
		return nil, err
	}
	err = eachPackage(opts, r.Key, func(community bool, build func() apktest.Pkg) error {
		repo := r.Main
		if community {
			repo = r.Community
		}
		_, err := repo.Add(build())
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func newRepos(opts Options) (*Repos, error) {
	key := opts.Key
	if key == nil {
		var err error
		if key, err = apktest.NewKey(""); err != nil {
			return nil, err
		}
	}
	r := &Repos{Key: key, Main: apktest.NewRepo(key), Community: apktest.NewRepo(key)}
	r.Community.Name = "community"
	for _, repo := range []*apktest.Repo{r.Main, r.Community} {
		repo.Branch, repo.Arch = Branch, opts.arch()
		repo.Description = "v3.23.3-alpinetest " + repo.Name
	}
	return r, nil
}

// eachPackage calls add for every package Options ask for, in index order,
// with a function that makes its description (contents included, so a
// caller holding many should call it late).
func eachPackage(opts Options, key *apktest.Key, add func(community bool, build func() apktest.Pkg) error) error {
	if opts.Testdata == "" {
		return errors.New("building the alpine test repositories: Options.Testdata is required")
	}
	base, err := basePackages(opts, key)
	if err != nil {
		return fmt.Errorf("building the alpine test repositories: %w", err)
	}
	for _, p := range append(base, opts.Extra...) {
		if err := add(false, func() apktest.Pkg { return p }); err != nil {
			return err
		}
	}
	if err := add(true, communityPackage); err != nil {
		return err
	}
	if opts.Scale.Packages > 0 {
		plan, err := opts.Scale.plan()
		if err != nil {
			return fmt.Errorf("building the alpine test repositories: %w", err)
		}
		plan.muslDep = muslSO(opts.arch())
		for i := range plan.pkgs {
			if err := add(false, func() apktest.Pkg { return plan.pkg(i) }); err != nil {
				return err
			}
		}
		if err := add(false, plan.world); err != nil {
			return err
		}
	}
	return nil
}

func (o Options) arch() string {
	if o.Arch == "" {
		return Arch
	}
	return o.Arch
}

// URLs returns the repositories' addresses below a mirror base URL, main
// first, as /etc/apk/repositories lists them.
func (r *Repos) URLs(base string) []string {
	return []string{r.Main.URL(base), r.Community.URL(base)}
}

// KeyRing trusts the repositories' key only.
func (r *Repos) KeyRing() *apk.KeyRing { return r.Key.KeyRing() }

// WriteKey writes the public key into dir as <dir>/<Key.Name>, the layout
// of /etc/apk/keys and of a --keys-dir.
func (r *Repos) WriteKey(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing test key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, r.Key.Name), r.Key.PublicPEM(), 0o644); err != nil {
		return fmt.Errorf("writing test key: %w", err)
	}
	return nil
}

// WriteDir writes both repositories below base in the mirror layout.
func (r *Repos) WriteDir(base string) error {
	for _, repo := range []*apktest.Repo{r.Main, r.Community} {
		if err := repo.WriteDir(base); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves both repositories like a mirror: /v3.23/main/x86_64/...
// and /v3.23/community/x86_64/...; anything else is 404.
func (r *Repos) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, repo := range []*apktest.Repo{r.Main, r.Community} {
		mux.Handle("/"+repo.Branch+"/"+repo.Name+"/", repo.Handler())
	}
	return mux
}

// NewServer serves the repositories on 127.0.0.1 (httptest); the mirror
// base URL is its URL field. The caller closes it.
func (r *Repos) NewServer() *httptest.Server {
	return httptest.NewServer(r.Handler())
}

// Lookup returns the built package of that name, from main or community.
func (r *Repos) Lookup(name string) (apktest.Built, bool) {
	for _, repo := range []*apktest.Repo{r.Main, r.Community} {
		for _, b := range repo.Packages {
			if b.Record.Name == name {
				return b, true
			}
		}
	}
	return apktest.Built{}, false
}

// readTestdata reads one file of the shared reference data.
func readTestdata(dir, rel string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("reading reference data: %w", err)
	}
	return b, nil
}
