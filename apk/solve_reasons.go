package apk

// Solution is a solved world with, for each package, what requires it:
// the edges of the graph the solver walked, so that a person can ask why
// a package is installed.
type Solution struct {
	Packages []*Package // in install order, as Solve returns them
	// Reasons are, for each of Packages, the world atoms and the
	// packages that require it, in the order the world and Packages list
	// them.
	Reasons map[*Package][]Reason
}

// Reason is one thing a package of a Solution is installed for.
type Reason struct {
	// By is the package whose dependency it satisfies, or that triggers
	// its install_if; nil for a world atom.
	By *Package
	// Atom is the world atom or By's dependency that the package was
	// chosen for; with InstallIf, the atom of the package's own
	// install_if that By satisfies.
	Atom      Dependency
	InstallIf bool
}

// SolveWithReasons is Solve, also telling why each package is in the
// answer: a dependency atom counts for the provider the solver chose for
// its name (so "so:libc.musl-x86_64.so.1" points at musl, and an atom two
// installed packages could satisfy points at the one apk picked), and an
// install_if package for each package that provides one of its atoms.
func SolveWithReasons(world []Dependency, indexes []*Index, opts SolveOptions) (*Solution, error) {
	sol, err := solve(world, indexes, opts)
	if err != nil {
		return nil, err
	}
	out := &Solution{Reasons: make(map[*Package][]Reason, len(sol.installs))}
	record := make(map[*spkg]*Package, len(sol.installs))
	for _, in := range sol.installs {
		record[in.pkg] = in.record
		out.Packages = append(out.Packages, in.record)
	}
	// chosen is the installed package the solver chose for d's name.
	chosen := func(d *sdep) *Package {
		if d.Conflict || d.name.chosen.pkg == nil {
			return nil
		}
		return record[d.name.chosen.pkg]
	}
	add := func(to *Package, r Reason) {
		if to != nil && to != r.By {
			out.Reasons[to] = append(out.Reasons[to], r)
		}
	}
	for i := range sol.world {
		add(chosen(&sol.world[i]), Reason{Atom: sol.world[i].Dependency})
	}
	for _, in := range sol.installs {
		for i := range in.pkg.depends {
			add(chosen(&in.pkg.depends[i]), Reason{By: in.record, Atom: in.pkg.depends[i].Dependency})
		}
		for i := range in.pkg.installIf {
			if by := chosen(&in.pkg.installIf[i]); by != nil && by != in.record {
				add(in.record, Reason{By: by, Atom: in.pkg.installIf[i].Dependency, InstallIf: true})
			}
		}
	}
	return out, nil
}
