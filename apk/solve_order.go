package apk

// changeset walks the decided names from the world atoms (in name order)
// and lists the chosen packages depth first, each after its dependencies,
// the way apk-tools' generate_changeset orders its changes; a dependency
// cycle is cut where the walk first comes back to a package. A package
// with install_if follows right after the last package that triggers it.
// Packages the solver marked broken are listed too, for the error report.
func (s *solver) changeset(world []sdep) []*spkg {
	var out []*spkg
	for i := range world {
		s.visitDep(nil, &world[i], &out)
	}
	return out
}

func (s *solver) visitDep(from *spkg, dep *sdep, out *[]*spkg) {
	n := dep.name
	if !provides(from, dep, n.chosen) {
		s.markError(from)
	}
	s.visitName(n, out)
	if p := n.chosen.pkg; p != nil && p.err {
		s.markError(from) // broken below: the requirer is broken too
	}
}

func (s *solver) visitName(n *sname, out *[]*spkg) {
	if n.processed {
		return
	}
	n.processed = true
	pkg := n.chosen.pkg
	if pkg == nil || pkg.inChangeset {
		return
	}
	pkg.inChangeset = true
	pkg.name.processed = true
	for _, d := range pkg.provides {
		d.name.processed = true
	}
	for i := range pkg.depends {
		s.visitDep(pkg, &pkg.depends[i], out)
	}
	*out = append(*out, pkg)

	// install_if packages whose triggers are now all in.
	s.visitTriggered(pkg.name, out)
	for _, d := range pkg.provides {
		s.visitTriggered(d.name, out)
	}
}

func (s *solver) visitTriggered(trigger *sname, out *[]*spkg) {
	for _, n := range trigger.rinstallIf {
		pkg := n.chosen.pkg
		if pkg == nil || !n.seen || n.processed {
			continue
		}
		ready := true
		for i := range pkg.installIf {
			d := &pkg.installIf[i]
			if !d.Conflict && !d.name.processed || !provides(pkg, d, d.name.chosen) {
				ready = false
				break
			}
		}
		if ready {
			s.visitName(n, out)
		}
	}
}
