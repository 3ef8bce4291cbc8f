package apk

import (
	"fmt"
	"math/rand"
	"testing"
)

// syntheticIndex generates an index shaped like Alpine's main: n packages,
// each a library (so: provide) or a program (cmd: provide) depending on a
// few earlier libraries by so: name and on a few packages by name; about a
// tenth come in two versions, -doc and -openrc subpackages have install_if,
// and some virtual names have several providers with k: priorities.
func syntheticIndex(n int, seed int64) *Index {
	r := rand.New(rand.NewSource(seed))
	idx := &Index{Source: "synthetic"}
	add := func(p *Package) {
		sum := make([]byte, 20)
		copy(sum, fmt.Sprintf("%s-%s", p.Name, p.Version))
		p.Checksum, p.Size, p.InstalledSize, p.Arch = sum, 1000, 4000, "x86_64"
		p.Repository = idx
		idx.Packages = append(idx.Packages, p)
	}
	var libs []int
	for i := 0; len(idx.Packages) < n; i++ {
		name := fmt.Sprintf("pkg%05d", i)
		versions := []string{"1.0-r0"}
		if r.Intn(10) == 0 {
			versions = append(versions, "1.1-r0")
		}
		isLib := i < 50 || r.Intn(3) == 0
		for _, v := range versions {
			p := &Package{Name: name, Version: v, Origin: name}
			if isLib {
				p.Provides = append(p.Provides, Dependency{Name: "so:lib" + name + ".so.1", Op: OpEqual, Version: "1"})
			} else {
				p.Provides = append(p.Provides, Dependency{Name: "cmd:" + name, Op: OpEqual, Version: v})
			}
			if len(libs) > 0 {
				for k := r.Intn(5); k > 0; k-- {
					// Mostly the low-level libraries, as in a real index.
					f := r.Float64()
					l := libs[int(f*f*f*float64(len(libs)))]
					p.Depends = append(p.Depends, Dependency{Name: fmt.Sprintf("so:libpkg%05d.so.1", l), Op: OpAny})
				}
				if r.Intn(4) == 0 {
					p.Depends = append(p.Depends, Dependency{Name: fmt.Sprintf("pkg%05d", libs[r.Intn(len(libs))]), Op: OpAny})
				}
			}
			if r.Intn(50) == 0 {
				p.Provides = append(p.Provides, Dependency{Name: fmt.Sprintf("virtual%d", r.Intn(20)), Op: OpAny})
				p.ProviderPriority, p.HasProviderPriority = 1+r.Intn(100), true
			}
			add(p)
		}
		if isLib {
			libs = append(libs, i)
		}
		if r.Intn(5) == 0 {
			add(&Package{Name: name + "-doc", Version: "1.0-r0", Arch: "noarch",
				InstallIf: []Dependency{{Name: name, Op: OpEqual, Version: versions[len(versions)-1]}, {Name: "docs", Op: OpAny}}})
		}
		if r.Intn(20) == 0 {
			add(&Package{Name: name + "-openrc", Version: "1.0-r0",
				Depends:   []Dependency{{Name: name, Op: OpAny}},
				InstallIf: []Dependency{{Name: "openrc", Op: OpAny}, {Name: name, Op: OpAny}}})
		}
	}
	add(&Package{Name: "openrc", Version: "0.50-r0"})
	add(&Package{Name: "docs", Version: "1-r0"})
	return idx
}

func syntheticWorld(idx *Index, n int, seed int64) []Dependency {
	r := rand.New(rand.NewSource(seed))
	world := []Dependency{{Name: "openrc", Op: OpAny}, {Name: "docs", Op: OpAny}}
	seen := map[string]bool{}
	for len(world) < n {
		p := idx.Packages[r.Intn(len(idx.Packages))]
		if seen[p.Name] || len(p.InstallIf) > 0 {
			continue
		}
		seen[p.Name] = true
		world = append(world, Dependency{Name: p.Name, Op: OpAny})
	}
	return world
}

func TestSolveSynthetic(t *testing.T) {
	idx := syntheticIndex(20000, 1)
	world := syntheticWorld(idx, 150, 2)
	pkgs, err := Solve(world, []*Index{idx}, SolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Every dependency is installed before its dependent, and every
	// install_if whose condition holds is installed.
	pos := map[string]int{}
	provided := map[string]int{}
	for i, p := range pkgs {
		pos[p.Name] = i
		provided[p.Name] = i
		for _, d := range p.Provides {
			provided[d.Name] = i
		}
	}
	for i, p := range pkgs {
		for _, d := range p.Depends {
			if j, ok := provided[d.Name]; !ok || j > i {
				t.Errorf("%s (at %d) depends on %s, installed at %d (%v)", p, i, d.Name, j, ok)
			}
		}
	}
	iif := 0
	for _, p := range idx.Packages {
		if len(p.InstallIf) == 0 {
			continue
		}
		holds := true
		for _, d := range p.InstallIf {
			j, ok := pos[d.Name]
			holds = holds && ok && d.MatchesVersion(pkgs[j].Version)
		}
		if j, in := pos[p.Name]; holds != (in && pkgs[j] == p) {
			t.Errorf("%s: install_if %v holds = %v, installed = %v", p, p.InstallIf, holds, in)
		}
		if holds {
			iif++
		}
	}
	t.Logf("world of %d over %d records: %d packages, %d by install_if", len(world), len(idx.Packages), len(pkgs), iif)
}

func BenchmarkSolve(b *testing.B) {
	idx := syntheticIndex(20000, 1)
	world := syntheticWorld(idx, 150, 2)
	indexes := []*Index{idx}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Solve(world, indexes, SolveOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
