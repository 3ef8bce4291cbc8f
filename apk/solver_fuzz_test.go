package apk

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// fuzzUniverse builds a small index and world from a seed: few names, so
// that versions, provides, conflicts and install_if collide often.
func fuzzUniverse(seed int64) ([]Dependency, []*Index) {
	r := rand.New(rand.NewSource(seed))
	names := []string{"a", "b", "c", "d", "e", "f", "v", "so:x"}
	versions := []string{"1", "2", "1.5", "2.1_rc1", "1.0-r1"}
	ops := []VersionOp{OpLess, OpEqual, OpGreater, OpGreater | OpEqual, OpLess | OpEqual, OpFuzzy | OpEqual}
	atom := func(conflicts bool) Dependency {
		d := Dependency{Name: names[r.Intn(len(names))], Op: OpAny}
		d.Conflict = conflicts && r.Intn(10) == 0
		if r.Intn(4) == 0 {
			d.Op, d.Version = ops[r.Intn(len(ops))], versions[r.Intn(len(versions))]
		}
		return d
	}
	var indexes []*Index
	for i := 0; i < 1+r.Intn(3); i++ {
		idx := &Index{Source: fmt.Sprint("repo", i)}
		if i > 0 && r.Intn(2) == 0 {
			idx.Tag = "t"
		}
		for j := 0; j < 2+r.Intn(10); j++ {
			p := &Package{Name: names[r.Intn(6)], Version: versions[r.Intn(len(versions))], InstalledSize: 1, Repository: idx}
			p.Checksum = make([]byte, 20)
			r.Read(p.Checksum[:2])
			for k := r.Intn(3); k > 0; k-- {
				p.Depends = append(p.Depends, atom(true))
			}
			if r.Intn(3) == 0 {
				pv := Dependency{Name: names[6+r.Intn(2)], Op: OpAny}
				if r.Intn(2) == 0 {
					pv.Op, pv.Version = OpEqual, versions[r.Intn(len(versions))]
				}
				p.Provides = append(p.Provides, pv)
			}
			if r.Intn(4) == 0 {
				p.ProviderPriority, p.HasProviderPriority = 1+r.Intn(5), true
			}
			if r.Intn(6) == 0 {
				p.InstallIf = []Dependency{atom(true), atom(true)}
			}
			if r.Intn(20) == 0 {
				p.Arch = "riscv64"
			}
			idx.Packages = append(idx.Packages, p)
		}
		indexes = append(indexes, idx)
	}
	var world []Dependency
	for k := 1 + r.Intn(3); k > 0; k-- {
		d := atom(false)
		if len(indexes) > 1 && indexes[len(indexes)-1].Tag != "" && r.Intn(4) == 0 {
			d.Tag = "t"
		}
		world = append(world, d)
	}
	return world, indexes
}

// FuzzSolve checks that Solve never panics, is deterministic, and that an
// answer satisfies what it must: every dependency installed before its
// dependent or in a cycle, no conflict installed, one package per name and
// per versioned provide.
func FuzzSolve(f *testing.F) {
	for _, s := range []int64{1, 2, 3, 42, 1234} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed int64) {
		world, indexes := fuzzUniverse(seed)
		got, err := Solve(world, indexes, SolveOptions{})
		again, err2 := Solve(world, indexes, SolveOptions{})
		if names(got) != names(again) || fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatalf("Solve is not deterministic: %s, %v then %s, %v", names(got), err, names(again), err2)
		}
		if err != nil {
			if _, ok := err.(*SolveError); !ok && !strings.Contains(err.Error(), "tagged") {
				t.Fatalf("Solve error %T: %v", err, err)
			}
			return
		}
		byName := map[string]*Package{}
		versioned := map[string]*Package{}
		satisfied := func(d Dependency) bool {
			for _, p := range got {
				if p.Name == d.Name && d.MatchesVersion(p.Version) {
					return true
				}
				for _, pv := range p.Provides {
					if pv.Name == d.Name && d.MatchesVersion(pv.Version) {
						return true
					}
				}
			}
			return false
		}
		for _, p := range got {
			if q := byName[p.Name]; q != nil {
				t.Fatalf("%s and %s both installed", p, q)
			}
			byName[p.Name] = p
			for _, pv := range p.Provides {
				if pv.Op == OpEqual {
					if q := versioned[pv.Name]; q != nil && q != p {
						t.Fatalf("%s and %s both provide %s", p, q, pv.Name)
					}
					versioned[pv.Name] = p
				}
			}
			if p.Arch == "riscv64" {
				t.Fatalf("%s of another arch installed", p)
			}
		}
		for _, p := range got {
			for _, d := range p.Depends {
				if d.Conflict {
					plain := d
					plain.Conflict = false
					if byName[d.Name] != nil && byName[d.Name] != p && d.MatchesVersion(byName[d.Name].Version) {
						t.Fatalf("%s installed with %s, which conflicts with it (%s)", byName[d.Name], p, d)
					}
					continue
				}
				if !satisfied(d) {
					t.Fatalf("%s: dependency %s not installed (world %v: %s)", p, d, world, names(got))
				}
			}
		}
		last := map[string]Dependency{} // a later atom for a name replaces an earlier one
		for _, d := range world {
			last[d.Name] = d
		}
		for _, d := range last {
			if !d.Conflict && !satisfied(Dependency{Name: d.Name, Op: d.Op, Version: d.Version}) {
				t.Fatalf("world atom %s not installed: %s", d, names(got))
			}
		}
	})
}
