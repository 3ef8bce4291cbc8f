package apk

import (
	"sort"
	"strings"
)

// SolveError is the refusal of a world that no selection satisfies. It
// lists, as apk's "unable to select packages:" report does, each package or
// name at fault and why: what it breaks, what it conflicts with, which atoms
// it satisfies or which require it, that no package has the name, that it
// is a virtual name nobody may choose automatically, or that it is
// uninstallable (wrong arch, unknown index field, broken dependency).
type SolveError struct {
	Problems []SolveProblem
}

// SolveProblem is one entry of a SolveError.
type SolveProblem struct {
	// Subject is "name-version" for a package, "name (no such package)"
	// or "name (virtual)" for a name nothing could be chosen for.
	Subject string
	Package *Package // the package, nil for a name
	Details []SolveDetail
}

// SolveDetail is one labelled line of a problem, e.g. Label "breaks:" and
// Items ["a-1[!b>1]"]. Labels are apk's: "error:", "arch:", "depends:",
// "masked in:", "conflicts:", "breaks:", "satisfies:", "note:",
// "provided by:", "required by:". Items name world atoms as "world[atom]"
// and package atoms as "name-version[atom]".
type SolveDetail struct {
	Label string
	Items []string
}

// reportWidth is the line width apk wraps its report at when not printing
// to a terminal.
const reportWidth = 50

// Error renders the report exactly as apk prints it (without "ERROR: ").
func (e *SolveError) Error() string {
	var b strings.Builder
	b.WriteString("unable to select packages:")
	if len(e.Problems) == 0 {
		// apk's own words when the conflict escapes its reporter.
		b.WriteString("\nHuh? Error reporter did not find the broken constraints.")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.Subject + ":")
		for _, d := range p.Details {
			head := "    " + d.Label
			b.WriteString("\n" + head)
			x, indent := len(head), len(head)+1
			for i, it := range d.Items {
				switch {
				case i == 0:
					b.WriteString(" " + it)
					x = indent + len(it)
				case x+len(it)+1 >= reportWidth:
					b.WriteString("\n" + strings.Repeat(" ", indent) + it)
					x = indent + len(it)
				default:
					b.WriteString(" " + it)
					x += 1 + len(it)
				}
			}
		}
	}
	return b.String()
}

// Analysis states of names and packages while explaining (apk's
// print_state flags).
const (
	statePresent = 1 << iota
	stateMissing
	stateVirtualOnly
	stateInstallIf
)

// explainer builds a SolveError from a failed solve: the packages the
// solver would have installed ("marked") and the names world reaches.
type explainer struct {
	s        *solver
	world    []sdep
	marked   map[*spkg]bool
	nameSt   map[*sname]int
	pkgSt    map[*spkg]int
	problems []SolveProblem
	cur      *SolveProblem // nil until the pending subject has a detail
	pending  SolveProblem  // the subject being analysed
	open     bool          // the last detail takes more items
}

func (s *solver) explain(world []sdep, installs []*spkg) error {
	e := &explainer{s: s, world: world, marked: map[*spkg]bool{},
		nameSt: map[*sname]int{}, pkgSt: map[*spkg]int{}}
	for _, p := range installs {
		e.marked[p] = true
	}
	e.discoverDeps(world)
	e.analyzeDeps(world)
	for _, p := range installs {
		e.analyzePackage(p)
		e.analyzeDeps(p.depends)
	}
	return &SolveError{Problems: e.problems}
}

func (e *explainer) subject(s string, p *Package) {
	e.pending = SolveProblem{Subject: s, Package: p}
	e.cur = nil
	e.open = false
}

// item adds one item under label, opening the subject and the label as
// needed; an open label takes the item whatever its name, as apk's
// printer does.
func (e *explainer) item(label, it string) {
	if e.cur == nil {
		e.problems = append(e.problems, e.pending)
		e.cur = &e.problems[len(e.problems)-1]
	}
	if !e.open {
		e.cur.Details = append(e.cur.Details, SolveDetail{Label: label})
		e.open = true
	}
	d := &e.cur.Details[len(e.cur.Details)-1]
	d.Items = append(d.Items, it)
}

func (e *explainer) end() { e.open = false }

func isConcrete(p *spkg, n *sname) bool {
	if p.name == n {
		return true
	}
	for _, d := range p.provides {
		if d.name == n && d.Op != OpAny {
			return true
		}
	}
	return false
}

func (e *explainer) discoverName(n *sname, state int) {
	for _, p := range n.providers {
		st := state
		pkg := p.pkg
		if !e.marked[pkg] {
			continue
		}
		if (st == statePresent || st == stateInstallIf) && pkg.ProviderPriority == 0 && !isConcrete(pkg, n) {
			st = stateVirtualOnly
		}
		if e.pkgSt[pkg]&st != 0 {
			continue
		}
		e.pkgSt[pkg] |= st
		e.nameSt[pkg.name] |= st
		for _, d := range pkg.provides {
			ds := st
			if ds == stateInstallIf && d.Op == OpAny {
				ds = stateVirtualOnly
			}
			e.nameSt[d.name] |= ds
		}
		e.discoverDeps(pkg.depends)
		if st == statePresent || st == stateInstallIf {
			e.discoverReverseIIF(pkg.name)
			for _, d := range pkg.provides {
				e.discoverReverseIIF(d.name)
			}
		}
	}
}

func (e *explainer) discoverReverseIIF(n *sname) {
	for _, n0 := range n.rinstallIf {
		for _, p := range n0.providers {
			if !e.marked[p.pkg] || len(p.pkg.installIf) == 0 {
				continue
			}
			ok := true
			for _, d := range p.pkg.installIf {
				if d.Conflict == (e.nameSt[d.name]&(statePresent|stateInstallIf) != 0) {
					ok = false
					break
				}
			}
			if ok {
				e.discoverName(p.pkg.name, stateInstallIf)
				for _, d := range p.pkg.provides {
					e.discoverName(d.name, stateInstallIf)
				}
			}
		}
	}
}

func (e *explainer) discoverDeps(deps []sdep) {
	for _, d := range deps {
		if !d.Conflict {
			e.discoverName(d.name, statePresent)
		}
	}
}

func (e *explainer) analyzeDeps(deps []sdep) {
	for _, d := range deps {
		if d.Conflict || e.nameSt[d.name]&(stateInstallIf|statePresent|stateMissing) != 0 {
			continue
		}
		e.nameSt[d.name] |= stateMissing
		e.analyzeMissingName(d.name)
	}
}

func (e *explainer) analyzeMissingName(n *sname) {
	if len(n.providers) > 0 {
		e.subject(n.name+" (virtual)", nil)
		for _, w := range strings.Fields("please select one of the 'provided by' packages explicitly") {
			e.item("note:", w)
		}
		e.end()
		refs := map[*sname]int{}
		for _, p := range n.providers {
			refs[p.pkg.name]++
		}
		for _, p := range n.providers {
			n0 := p.pkg.name
			switch r := refs[n0]; {
			case r == len(n0.providers):
				e.item("provided by:", n0.name)
				refs[n0] = 0
			case r > 0:
				e.item("provided by:", p.pkg.String())
				refs[n0]--
			}
		}
		e.end()
	} else {
		e.subject(n.name+" (no such package)", nil)
	}
	for _, d := range e.world {
		if d.name == n && !d.Conflict {
			e.item("required by:", e.worldItem(d))
		}
	}
	seen := map[*spkg]bool{}
	for _, n0 := range n.rdepends {
	providers:
		for _, p := range n0.providers {
			if !e.marked[p.pkg] || seen[p.pkg] {
				continue
			}
			seen[p.pkg] = true
			for _, d := range p.pkg.depends {
				if d.name == n && !d.Conflict {
					e.item("required by:", p.pkg.String()+"["+d.String()+"]")
					break providers
				}
			}
		}
	}
	e.end()
}

// worldItem spells a world atom as apk's report does, the tag last.
func (e *explainer) worldItem(d sdep) string {
	a := d.Dependency
	a.Tag = ""
	tag := ""
	if d.Tag != "" {
		tag = "@" + d.Tag
	}
	return "world[" + a.String() + tag + "]"
}

func (e *explainer) analyzePackage(p *spkg) {
	e.subject(p.String(), p.Package)
	if p.refused != "" {
		e.item("error:", "uninstallable")
		e.end()
		if p.archBad {
			e.item("arch:", p.Arch)
			e.end()
		}
		for _, f := range []struct {
			label string
			deps  []sdep
		}{{"depends:", p.depends}, {"provides:", p.provides}, {"install_if:", p.installIf}} {
			for _, d := range f.deps {
				if d.Op&OpChecksum == 0 && d.Op != OpAny && !ValidVersion(d.Version) {
					e.item(f.label, d.String())
				}
			}
			e.end()
		}
	}
	e.pinningErrors(p)
	e.conflicts(p)
	e.deps(p, false)
	if e.cur != nil {
		e.deps(p, true)
	}
}

func (e *explainer) pinningErrors(p *spkg) {
	u := e.s.u
	tag := u.tagOf(p)
	if p.repos&u.reposOf(defaultPinning|1<<tag) != 0 {
		return
	}
	for _, t := range u.tags {
		if p.repos&t.repos != 0 {
			e.item("masked in:", t.name)
		}
	}
	e.end()
}

func (e *explainer) conflicts(p *spkg) {
	for _, q := range p.name.providers {
		if q.pkg != p && e.marked[q.pkg] {
			e.item("conflicts:", q.pkg.String())
		}
	}
	for _, d := range p.provides {
		once := true
		for _, q := range d.name.providers {
			if !e.marked[q.pkg] || d.Op == OpAny && q.virtual {
				continue
			}
			if once && q.pkg == p && q.version == d.Version && q.virtual == (d.Op == OpAny) {
				once = false
				continue
			}
			e.item("conflicts:", q.pkg.String()+"["+d.String()+"]")
		}
	}
	e.end()
}

// Relations of an atom to a package (apk_dep_analyze).
const (
	depIrrelevant = iota
	depSatisfies
	depConflicts
)

func analyzeDep(from *spkg, d *sdep, p *spkg) int {
	verdict := func(ok bool) int {
		if ok {
			return depSatisfies
		}
		return depConflicts
	}
	if d.name == p.name {
		return verdict(d.matches(p.Checksum, p.Version) != d.Conflict)
	}
	for _, q := range p.provides {
		if q.name == d.name {
			return verdict(provides(from, d, provider{pkg: p, version: q.Version, virtual: q.Op == OpAny}))
		}
	}
	return depIrrelevant
}

type matchedDep struct {
	pkg *spkg // nil for a world atom
	dep sdep
}

// deps lists the atoms p satisfies (or breaks): world atoms first, then
// those of the other selected packages that depend on its names.
func (e *explainer) deps(p *spkg, satisfies bool) {
	want, label := depConflicts, "breaks:"
	if satisfies {
		want, label = depSatisfies, "satisfies:"
	}
	var world []matchedDep
	for i := range e.world {
		if analyzeDep(nil, &e.world[i], p) == want {
			world = append(world, matchedDep{dep: e.world[i]})
		}
	}
	e.printMatched(label, world)

	var rev []matchedDep
	seen := map[*spkg]bool{}
	names := []*sname{p.name}
	for _, d := range p.provides {
		names = append(names, d.name)
	}
	for _, n := range names {
		for _, n0 := range n.rdepends {
			for _, q := range n0.providers {
				if !e.marked[q.pkg] || seen[q.pkg] {
					continue
				}
				seen[q.pkg] = true
				for i := range q.pkg.depends {
					if analyzeDep(q.pkg, &q.pkg.depends[i], p) == want {
						rev = append(rev, matchedDep{pkg: q.pkg, dep: q.pkg.depends[i]})
					}
				}
			}
		}
	}
	e.printMatched(label, rev)
	e.end()
}

func (e *explainer) printMatched(label string, ms []matchedDep) {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.pkg != nil && b.pkg != nil {
			if r := comparePackagesDisplay(a.pkg, b.pkg); r != 0 {
				return r < 0
			}
		}
		return apkOpMask(a.dep.Dependency) < apkOpMask(b.dep.Dependency)
	})
	for _, m := range ms {
		if m.pkg == nil {
			e.item(label, e.worldItem(m.dep))
		} else {
			e.item(label, m.pkg.String()+"["+m.dep.String()+"]")
		}
	}
}

func comparePackagesDisplay(a, b *spkg) int {
	if a.name != b.name {
		return compareNamesDisplay(a.Name, b.Name)
	}
	return CompareVersions(a.Version, b.Version)
}

// apkOpMask is the operator as apk-tools encodes it, for ordering report
// items the same way.
func apkOpMask(d Dependency) int {
	m := 0
	switch {
	case d.Op&OpChecksum != 0:
		m = 2 | 4
	default:
		if d.Op&OpEqual != 0 {
			m |= 1
		}
		if d.Op&OpLess != 0 {
			m |= 2
		}
		if d.Op&OpGreater != 0 {
			m |= 4
		}
		if d.Op&OpFuzzy != 0 {
			m |= 8
		}
	}
	if d.Conflict {
		m |= 16
	}
	return m
}

// MissingNames returns the names no repository has a package for when
// they are all that is wrong (a world written for another branch, or
// read from the wrong mirror), in the report's order; nil otherwise.
func (e *SolveError) MissingNames() []string {
	var names []string
	for _, p := range e.Problems {
		name, ok := strings.CutSuffix(p.Subject, " (no such package)")
		if !ok {
			return nil
		}
		names = append(names, name)
	}
	return names
}
