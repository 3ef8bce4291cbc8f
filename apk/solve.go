package apk

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Solving a world follows apk-tools' solver (solver.c) choice for choice,
// because an image must hold exactly what `apk add` would install: the same
// provider for a virtual name, the same version, the same install_if
// packages, in the same order. It is apk's deductive solver, not a greedy
// walk: constraints propagate down (the dependencies common to all
// remaining candidates of a name apply before any choice), names are
// decided in apk's queue order (a name with a single possible choice first;
// then names with an auto-selectable candidate, real package names outside
// the world before world and virtual names), and a choice disqualifies the
// competing providers, which re-evaluates everything that depended on them.
// The result was compared with apk-tools 90b974fd on its own solver suite,
// on real indexes and on 1,400 random cases (testdata/solver-differential).
//
// Left out on purpose, since a fresh image has nothing installed: upgrades,
// removals, `--latest`/`--available`/`--force-broken-world`, `-t` virtual
// world packages, cached and non-repository packages, and layers.

// DefaultArch is the architecture Solve installs for when SolveOptions.Arch
// is empty.
const DefaultArch = "x86_64"

// maxRepositories bounds the indexes of one solve: a 64-bit mask of them is
// kept per package, as apk does, and of their tags plus the untagged one.
const maxRepositories = 63

// SolveOptions tunes Solve. The zero value installs for x86_64.
type SolveOptions struct {
	Arch string // "" = DefaultArch; packages of other arches (but "noarch") are refused
}

// Solve selects the packages a fresh `apk add` of world installs from the
// indexes, and returns them in apk's install order: each package after its
// dependencies (cycles broken where apk breaks them), install_if packages
// right after the last package that triggers them. indexes are in
// repository order; apk prefers the earlier one when everything else is
// equal. A tagged index (Index.Tag) serves only atoms pinned with that
// "@tag" and the dependencies of what they pull in.
//
// Records with the same checksum in several indexes are one package (the
// record returned is that of the first index serving the tag it is
// installed under: an untagged index for an unpinned package), and a later world atom for a name
// replaces an earlier one, as in apk. When no selection satisfies world,
// the error is a *SolveError, which explains the conflict as apk's "unable
// to select packages:" does; an atom pinned to a tag no index has is a
// plain error.
func Solve(world []Dependency, indexes []*Index, opts SolveOptions) ([]*Package, error) {
	sol, err := solve(world, indexes, opts)
	if err != nil {
		return nil, err
	}
	pkgs := make([]*Package, len(sol.installs))
	for i, in := range sol.installs {
		pkgs[i] = in.record
	}
	return pkgs, nil
}

// install is one package of a solution and the tag of the repository it is
// installed from ("" for an untagged one), as apk prints "name@tag".
type install struct {
	pkg    *spkg
	tag    string
	record *Package // pkg's record from a repository of tag
}

type solution struct {
	installs []install
	world    []sdep // bound to the names the solver decided
}

// solve is Solve, keeping what the test suite compares besides packages.
func solve(world []Dependency, indexes []*Index, opts SolveOptions) (*solution, error) {
	arch := opts.Arch
	if arch == "" {
		arch = DefaultArch
	}
	u, err := newUniverse(indexes, arch)
	if err != nil {
		return nil, err
	}
	w, err := u.worldDeps(world)
	if err != nil {
		return nil, err
	}
	s := newSolver(u)
	s.run(w)
	installs := s.changeset(w)
	if s.errors > 0 {
		return nil, s.explain(w, installs)
	}
	sol := &solution{installs: make([]install, len(installs)), world: w}
	for i, p := range installs {
		t := u.tagOf(p)
		sol.installs[i] = install{pkg: p, tag: u.tags[t].name, record: u.record(p, t)}
	}
	return sol, nil
}

// sname is a name in the universe: a package name, a provided name, or
// just a name something depends on.
type sname struct {
	name       string
	created    int    // creation order, for apk's hash order
	bucket     uint32 // apk's hash bucket of the name
	providers  []provider
	rdepends   []*sname // names whose providers depend on this one
	rinstallIf []*sname // names whose providers have it in install_if
	inWorld    bool     // a world atom names it (apk's solver_flags_set)

	nameState
}

// provider is one way a package provides a name: its own name (with its
// version) or one of its provides (versioned or not).
type provider struct {
	pkg     *spkg
	version string
	virtual bool // an unversioned provide (apk's null version atom); also "nothing"
}

// noProvider is the choice of nothing for a name.
var noProvider = provider{virtual: true}

// sdep is a dependency atom bound to its name.
type sdep struct {
	Dependency
	name *sname
}

// spkg is a package in the universe.
type spkg struct {
	*Package
	name      *sname
	repos     uint64 // bit i: indexes[i] has it
	depends   []sdep
	provides  []sdep
	installIf []sdep
	refused   string // why it can never be installed ("" if it can)
	archBad   bool
	firstRepo uint64      // the index Package comes from
	alts      []altRecord // the same package's records in later indexes

	pkgState
}

// altRecord is the record of a package in another index than its first.
type altRecord struct {
	repo uint64 // bit of the index
	pkg  *Package
}

// record returns p's record from the first index that tag serves, so that
// a package installed from an untagged repository is not fetched from a
// tagged one that lists the same file earlier.
func (u *universe) record(p *spkg, tag int) *Package {
	allowed := u.tags[tag].repos
	if p.firstRepo&allowed != 0 {
		return p.Package
	}
	for _, a := range p.alts {
		if a.repo&allowed != 0 {
			return a.pkg
		}
	}
	return p.Package
}

type repoTag struct {
	name  string // "@tag", "" for untagged repositories
	repos uint64 // the repositories with this tag
}

// universe holds every package of the indexes, deduplicated by checksum
// like apk's database, and every name they mention.
type universe struct {
	names   map[string]*sname
	ordered []*sname // creation order
	pkgs    []*spkg
	tags    []repoTag // tags[0] is the untagged one
	arch    string

	pkgSlab  []spkg
	depSlab  []sdep
	nameSlab []sname
}

func newUniverse(indexes []*Index, arch string) (*universe, error) {
	if len(indexes) > maxRepositories {
		return nil, fmt.Errorf("solving: %d indexes, at most %d are supported", len(indexes), maxRepositories)
	}
	// Allocate packages and atoms in slabs: an index has tens of
	// thousands of each.
	records, atoms := 0, 0
	for _, idx := range indexes {
		records += len(idx.Packages)
		for _, p := range idx.Packages {
			atoms += len(p.Depends) + len(p.Provides) + len(p.InstallIf)
		}
	}
	u := &universe{
		names: make(map[string]*sname, records*2), tags: []repoTag{{}}, arch: arch,
		pkgSlab: make([]spkg, 0, records), depSlab: make([]sdep, 0, atoms),
	}
	type identity struct {
		sum  [20]byte
		name string // for records without a checksum (never from ParseIndex)
	}
	byChecksum := make(map[identity]*spkg, records)
	for i, idx := range indexes {
		bit := uint64(1) << i
		t := 0
		if idx.Tag != "" {
			t = u.tagID("@" + strings.TrimPrefix(idx.Tag, "@"))
		}
		u.tags[t].repos |= bit
		for _, p := range idx.Packages {
			var key identity
			if len(p.Checksum) == len(key.sum) {
				copy(key.sum[:], p.Checksum)
			} else {
				key.name = fmt.Sprintf("%s %s %d %x", p.Name, p.Version, i, p.Checksum)
			}
			if sp := byChecksum[key]; sp != nil {
				sp.repos |= bit
				sp.alts = append(sp.alts, altRecord{bit, p})
				continue
			}
			sp := u.addPackage(p)
			sp.repos, sp.firstRepo = bit, bit
			byChecksum[key] = sp
		}
	}
	u.linkReverse()
	return u, nil
}

func (u *universe) tagID(tag string) int {
	for i, t := range u.tags {
		if t.name == tag {
			return i
		}
	}
	u.tags = append(u.tags, repoTag{name: tag})
	return len(u.tags) - 1
}

func (u *universe) name(n string) *sname {
	if sn := u.names[n]; sn != nil {
		return sn
	}
	if len(u.nameSlab) == cap(u.nameSlab) {
		u.nameSlab = make([]sname, 0, 1024)
	}
	u.nameSlab = append(u.nameSlab, sname{name: n, created: len(u.ordered), bucket: murmur3(n, 5381) % apkNameBuckets})
	sn := &u.nameSlab[len(u.nameSlab)-1]
	u.names[n] = sn
	u.ordered = append(u.ordered, sn)
	return sn
}

func (u *universe) bind(deps []Dependency) []sdep {
	if len(deps) == 0 {
		return nil
	}
	start := len(u.depSlab)
	for _, d := range deps {
		u.depSlab = append(u.depSlab, sdep{Dependency: d, name: u.name(d.Name)})
	}
	return u.depSlab[start:len(u.depSlab):len(u.depSlab)]
}

func (u *universe) addPackage(p *Package) *spkg {
	u.pkgSlab = append(u.pkgSlab, spkg{Package: p, name: u.name(p.Name)})
	sp := &u.pkgSlab[len(u.pkgSlab)-1]
	sp.depends = u.bind(p.Depends)
	sp.provides = u.bind(p.Provides)
	sp.installIf = u.bind(p.InstallIf)
	switch {
	case p.Uninstallable:
		sp.refused = p.UninstallableReason
	case p.Arch != "" && p.Arch != "noarch" && p.Arch != u.arch:
		sp.refused, sp.archBad = "arch "+p.Arch, true
	}
	u.pkgs = append(u.pkgs, sp)
	sp.name.providers = append(sp.name.providers, provider{pkg: sp, version: p.Version})
	for _, d := range sp.provides {
		d.name.providers = append(d.name.providers, provider{pkg: sp, version: d.Version, virtual: d.Op == OpAny})
	}
	return sp
}

// linkReverse fills rdepends and rinstallIf. apk walks its name hash table
// to do it, and the order it finds names in decides the order of later
// work queues, so the same order is used here: murmur3 buckets of 20000,
// the most recently created name first within a bucket.
func (u *universe) linkReverse() {
	keys := make([]uint64, len(u.ordered))
	for i, n := range u.ordered {
		keys[i] = uint64(n.bucket)<<32 | uint64(^uint32(i))
	}
	slices.Sort(keys)
	for _, k := range keys {
		n := u.ordered[^uint32(k)]
		for _, p := range n.providers {
			for _, d := range p.pkg.depends {
				if !containsName(d.name.rdepends, n) {
					d.name.rdepends = append(d.name.rdepends, n)
				}
			}
			for _, d := range p.pkg.installIf {
				if !containsName(d.name.rinstallIf, n) {
					d.name.rinstallIf = append(d.name.rinstallIf, n)
				}
			}
		}
	}
}

func containsName(list []*sname, n *sname) bool {
	// Only the last entry can be n: entries for one name are added together.
	return len(list) > 0 && list[len(list)-1] == n
}

// worldDeps binds the world atoms, in apk's order (by name, case
// insensitively first), a later atom for a name replacing an earlier one.
func (u *universe) worldDeps(world []Dependency) ([]sdep, error) {
	var w []sdep
	for _, d := range world {
		if d.Tag != "" {
			t := "@" + d.Tag
			found := false
			for _, rt := range u.tags[1:] {
				found = found || rt.name == t
			}
			if !found {
				return nil, fmt.Errorf("solving world atom %s: no repository is tagged %s", d, t)
			}
		}
		sd := sdep{Dependency: d, name: u.name(d.Name)}
		sd.name.inWorld = true
		replaced := false
		for i := range w {
			if w[i].name == sd.name {
				w[i], replaced = sd, true
			}
		}
		if !replaced {
			w = append(w, sd)
		}
	}
	sort.SliceStable(w, func(i, j int) bool { return compareNamesDisplay(w[i].Name, w[j].Name) < 0 })
	return w, nil
}

// compareNamesDisplay orders names as apk lists them: case-insensitively,
// then byte-wise.
func compareNamesDisplay(a, b string) int {
	if r := strings.Compare(strings.ToLower(a), strings.ToLower(b)); r != 0 {
		return r
	}
	return strings.Compare(a, b)
}

// tagID of a world atom's tag; 0 when untagged.
func (u *universe) worldTag(d sdep) int {
	if d.Tag == "" {
		return 0
	}
	return u.tagID("@" + d.Tag)
}

// reposOf returns the repositories the tags in mask serve.
func (u *universe) reposOf(mask uint64) uint64 {
	var repos uint64
	for i, t := range u.tags {
		if mask&(1<<i) != 0 {
			repos |= t.repos
		}
	}
	return repos
}

// tagOf returns the tag a chosen package is installed under: the first tag
// it may come from that has it.
func (u *universe) tagOf(p *spkg) int {
	for i, t := range u.tags {
		if p.pinningAllowed&(1<<i) != 0 && t.repos&p.repos != 0 {
			return i
		}
	}
	return 0
}

// apkNameBuckets is the size of apk-tools' name hash table.
const apkNameBuckets = 20000

// murmur3 is MurmurHash3's 32-bit variant, the hash apk-tools' tables use.
func murmur3(key string, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(key) / 4
	for i := 0; i < n; i++ {
		k := uint32(key[4*i]) | uint32(key[4*i+1])<<8 | uint32(key[4*i+2])<<16 | uint32(key[4*i+3])<<24
		k *= c1
		k = k<<15 | k>>17
		k *= c2
		h ^= k
		h = h<<13 | h>>19
		h = h*5 + 0xe6546b64
	}
	tail := key[4*n:]
	var k uint32
	switch len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = k<<15 | k>>17
		k *= c2
		h ^= k
	}
	h ^= uint32(len(key))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
