package apk

// reconsider re-derives what a name's remaining candidates imply: it drops
// candidates whose dependencies became unsatisfiable, checks install_if
// triggers, applies the dependencies all candidates share, and excludes
// providers that cannot coexist with every candidate.
func (s *solver) reconsider(n *sname) {
	reevaluateDeps, reevaluateIIF := n.reevaluateDeps, n.reevaluateIIF
	n.reevaluateDeps, n.reevaluateIIF = false, false

	var first *spkg
	options, tagNotOK := 0, 0
	hasIIF, noIIF, autoSel := false, true, false
	for _, p := range n.providers {
		pkg := p.pkg
		pkg.depsMerged = false
		if reevaluateDeps && pkg.selectable {
			for i := range pkg.depends {
				if !s.satisfiable(pkg, &pkg.depends[i]) {
					s.disqualify(pkg)
					break
				}
			}
		}
		if !pkg.selectable {
			continue
		}
		if reevaluateIIF && !pkg.iifTriggered && !pkg.iifFailed {
			s.evaluateIIF(pkg)
		}
		if reevaluateIIF && pkg.iifTriggered {
			for _, d := range pkg.installIf {
				s.inheritPinning(pkg, d.name.chosen.pkg)
			}
		}
		hasIIF = hasIIF || pkg.iifTriggered
		noIIF = noIIF && pkg.iifFailed
		autoSel = autoSel || pkg.iifTriggered
		if n.requirers == 0 {
			continue
		}

		// Count what this candidate has in common with the earlier ones.
		pkg.depsMerged = true
		if first == nil {
			first = pkg
		}
		for _, d := range pkg.depends {
			if !d.Conflict {
				mergeStep(&d.name.mergeDepends, options)
			}
		}
		if mergeStep(&pkg.name.mergeProvides, options) {
			pkg.name.hasVirtualProvides = pkg.name.hasVirtualProvides || p.virtual
		}
		for _, d := range pkg.provides {
			if mergeStep(&d.name.mergeProvides, options) {
				d.name.hasVirtualProvides = d.name.hasVirtualProvides || d.Op == OpAny
			}
		}
		if !pkg.tagOK {
			tagNotOK++
		}
		options++
		if !autoSel && autoSelectable(p) {
			autoSel = true
		}
	}
	n.hasOptions = options > 1 || tagNotOK > 0
	n.hasIIF = hasIIF
	n.noIIF = noIIF
	reevaluate := false
	if autoSel != n.hasAutoSelectable {
		n.hasAutoSelectable = autoSel
		reevaluate = true
	}

	if first != nil {
		for _, p := range n.providers {
			p.pkg.depsUsed = p.pkg.depsMerged
		}
		if options == 1 {
			// One candidate left: its dependencies apply now. (apk applies
			// them again on every reconsideration, which only raises
			// counts; kept so that choices stay the same.)
			for _, d := range first.depends {
				if mergeDone(&d.name.mergeDepends, options) {
					s.applyConstraint(first, d)
				}
			}
		} else {
			// Names every candidate depends on are required whatever
			// the choice, so they may start resolving.
			for _, d := range first.depends {
				n0 := d.name
				if mergeDone(&n0.mergeDepends, options) && n0.requirers == 0 {
					n0.requirers++
					s.requirersChanged(n0)
					for _, p := range n0.providers {
						s.inheritPinning(p.pkg, first)
					}
				}
			}
		}
		// Names every candidate provides: their other providers conflict.
		if mergeDone(&first.name.mergeProvides, options) {
			s.excludeNonProviders(first.name, n, first.name.hasVirtualProvides)
		}
		for _, d := range first.provides {
			if mergeDone(&d.name.mergeProvides, options) {
				s.excludeNonProviders(d.name, n, d.name.hasVirtualProvides)
			}
		}
		first.name.hasVirtualProvides = false
		for _, d := range first.provides {
			d.name.hasVirtualProvides = false
		}
	}

	n.reverseDepsDone = true
	for _, n0 := range n.rdepends {
		if n0.seen && !n0.locked {
			n.reverseDepsDone = false
			break
		}
	}
	s.queueUnresolved(n, reevaluate)
}

// evaluateIIF decides whether pkg's install_if condition holds, once every
// name in it is decided.
func (s *solver) evaluateIIF(pkg *spkg) {
	pkg.iifTriggered, pkg.iifFailed = true, false
	for i := range pkg.installIf {
		d := &pkg.installIf[i]
		if !d.name.locked {
			if d.Conflict {
				// "!x" holds only once x is decided; make sure it will be.
				d.name.iifNeeded = true
				s.queueUnresolved(d.name, false)
			}
			pkg.iifTriggered = false
			return
		}
		if !provides(pkg, d, d.name.chosen) {
			pkg.iifTriggered, pkg.iifFailed = false, true
			return
		}
	}
}

// selectFor decides a name: the best auto-selectable candidate, or nothing.
func (s *solver) selectFor(n *sname) {
	chosen := noProvider
	if n.requirers > 0 || n.hasIIF {
		for _, p := range n.providers {
			if n.requirers == 0 && (!p.pkg.iifTriggered || !p.pkg.tagOK || !p.pkg.selectable) {
				continue // only a triggered install_if may choose an unrequired name
			}
			if !autoSelectable(p) {
				continue
			}
			if s.compareProviders(p, chosen) > 0 {
				chosen = p
			}
		}
	}
	pkg := chosen.pkg
	if pkg == nil {
		s.assign(n, noProvider)
		if n.requirers > 0 {
			s.errors++
		}
		return
	}
	if !pkg.selectable || !pkg.tagOK {
		s.markError(pkg)
	}
	s.assign(pkg.name, provider{pkg: pkg, version: pkg.Version})
	for _, d := range pkg.provides {
		s.assign(d.name, provider{pkg: pkg, version: d.Version, virtual: d.Op == OpAny})
	}
	for _, d := range pkg.depends {
		s.applyConstraint(pkg, d)
	}
}

// assign decides name n as p and disqualifies the providers that conflict.
func (s *solver) assign(n *sname, p provider) {
	if n.locked {
		if p.virtual && n.chosen.virtual {
			return // unversioned provides of one name coexist
		}
		s.markError(p.pkg)
		s.markError(n.chosen.pkg)
		return
	}
	n.locked = true
	n.chosen = p
	s.unqueue(n)
	if n.dirty != nil {
		s.dirty.Remove(n.dirty)
		n.dirty = nil
	}
	if p.pkg != nil && n.requirers == 0 && p.pkg.iifTriggered {
		for _, d := range p.pkg.installIf {
			if !d.name.locked {
				s.applyConstraint(p.pkg, d)
			}
		}
	}
	for _, p0 := range n.providers {
		if p0.pkg == p.pkg || p.virtual && p0.virtual {
			continue
		}
		s.disqualify(p0.pkg)
	}
	s.reevaluateReverseDeps(n)
	if p.pkg != nil {
		s.reevaluateReverseIIFOf(p.pkg)
	} else {
		s.reevaluateReverseIIF(n)
	}
}

// compareProviders orders two candidates for a name as apk's
// compare_providers does for a fresh install; > 0 means a is better.
func (s *solver) compareProviders(a, b provider) int {
	pa, pb := a.pkg, b.pkg
	if pa == nil || pb == nil {
		return boolInt(pa != nil) - boolInt(pb != nil)
	}
	steps := []int{
		boolInt(pa.selectable) - boolInt(pb.selectable),
		boolInt(pa.depsUsed) - boolInt(pb.depsUsed), // in the last merge of candidates
		pb.conflicts - pa.conflicts,
		boolInt(pa.tagOK) - boolInt(pb.tagOK),
		boolInt(pa.tagPreferred) - boolInt(pb.tagPreferred),
	}
	for _, r := range steps {
		if r != 0 {
			return r
		}
	}
	// Latest version of the requested name (an unversioned provide has
	// version "", below all others), then of the package itself.
	if r := CompareVersions(a.version, b.version); r != 0 {
		return r
	}
	if pa.name == pb.name {
		if r := CompareVersions(pa.Version, pb.Version); r != 0 {
			return r
		}
	}
	if r := pa.ProviderPriority - pb.ProviderPriority; r != 0 {
		return r
	}
	// The earliest repository.
	return lowestBit(pb.repos) - lowestBit(pa.repos)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lowestBit is C's ffs: the 1-based index of the lowest set bit, 0 for none.
func lowestBit(x uint64) int {
	for i := 0; i < 64; i++ {
		if x&(1<<i) != 0 {
			return i + 1
		}
	}
	return 0
}
