package apk

import "container/list"

// nameState is the solver's per-name bookkeeping.
type nameState struct {
	chosen    provider
	seen      bool  // discovered
	locked    bool  // decided: chosen is final
	requirers int   // non-conflict constraints applied to the name
	orderID   int32 // apk keeps it in a signed int: bit 31 set sorts last

	// Counters for finding what all remaining candidates of a name have in
	// common, and whether a common provide is unversioned somewhere.
	mergeDepends, mergeProvides int
	hasVirtualProvides          bool

	reevaluateDeps, reevaluateIIF bool
	hasIIF, noIIF, iifNeeded      bool
	hasOptions                    bool // more than one candidate, or one with a bad pinning
	hasAutoSelectable             bool
	reverseDepsDone               bool // every discovered reverse dependency is decided
	resolveNow                    bool

	dirty *list.Element // in solver.dirty
	queue *list.List    // the unresolved queue holding it, if any
	elem  *list.Element

	processed bool // handled by the changeset walk
}

// pkgState is the solver's per-package bookkeeping.
type pkgState struct {
	seen             bool
	selectable       bool // not (yet) disqualified
	conflicts        int  // constraints it fails
	pinningAllowed   uint64
	pinningPreferred uint64
	tagOK            bool // comes from a repository its requirers may use
	tagPreferred     bool // ... and from one they prefer
	iifTriggered     bool
	iifFailed        bool
	depsUsed         bool // in the last merge of its name's candidates
	depsMerged       bool
	inChangeset      bool
	err              bool
}

const defaultPinning = 1 // tag 0: untagged repositories

type solver struct {
	u              *universe
	defaultRepos   uint64
	pinningInherit uint64 // the pinning of the world atom being applied
	order          uint32
	errors         int

	dirty      list.List // names to reconsider
	resolveNow list.List // names with exactly one possible choice
	selectable list.List // names with an auto-selectable candidate
	unresolved list.List // the rest
}

func newSolver(u *universe) *solver {
	s := &solver{u: u, defaultRepos: u.reposOf(defaultPinning)}
	s.dirty.Init()
	s.resolveNow.Init()
	s.selectable.Init()
	s.unresolved.Init()
	return s
}

// run decides every name the world reaches.
func (s *solver) run(world []sdep) {
	for _, d := range world {
		s.discover(d.name)
	}
	for _, d := range world {
		s.pinningInherit = 1 << s.u.worldTag(d)
		s.applyConstraint(nil, d)
	}
	s.pinningInherit = 0
	for {
		for s.dirty.Len() > 0 {
			n := s.dirty.Remove(s.dirty.Front()).(*sname)
			n.dirty = nil
			s.reconsider(n)
		}
		n := s.nextName()
		if n == nil {
			return
		}
		s.selectFor(n)
	}
}

func (s *solver) nextName() *sname {
	for _, q := range []*list.List{&s.resolveNow, &s.selectable, &s.unresolved} {
		if q.Len() > 0 {
			n := q.Remove(q.Front()).(*sname)
			n.queue, n.elem = nil, nil
			return n
		}
	}
	return nil
}

func (s *solver) markError(p *spkg) {
	if p == nil || p.err {
		return
	}
	p.err = true
	s.errors++
}

func (s *solver) queueDirty(n *sname) {
	if n.dirty != nil || n.locked || n.requirers == 0 && !n.reevaluateIIF {
		return
	}
	n.dirty = s.dirty.PushBack(n)
}

// canResolveNow: the name is required, nothing about it can change any
// more, and there is exactly one way to satisfy it.
func canResolveNow(n *sname) bool {
	return n.reverseDepsDone && n.requirers > 0 && n.hasAutoSelectable && !n.hasOptions
}

func (s *solver) unqueue(n *sname) {
	if n.queue != nil {
		n.queue.Remove(n.elem)
		n.queue, n.elem = nil, nil
	}
}

// queueUnresolved puts a name in the queue its state calls for; a queued
// name moves only to resolve-now, or when reevaluate says its
// auto-selectability changed.
func (s *solver) queueUnresolved(n *sname, reevaluate bool) {
	if n.locked {
		return
	}
	if n.queue != nil {
		if n.resolveNow {
			return
		}
		if canResolveNow(n) {
			n.resolveNow = true
		} else if !reevaluate {
			return
		}
		s.unqueue(n)
	} else {
		if n.requirers == 0 && !n.hasIIF && !n.iifNeeded {
			return
		}
		n.resolveNow = canResolveNow(n)
	}
	if n.resolveNow {
		n.queue, n.elem = &s.resolveNow, s.resolveNow.PushBack(n)
		return
	}
	q := &s.unresolved
	if n.hasAutoSelectable {
		q = &s.selectable
	}
	// Highest order ID first.
	for e := q.Front(); e != nil; e = e.Next() {
		if n.orderID >= e.Value.(*sname).orderID {
			n.queue, n.elem = q, q.InsertBefore(n, e)
			return
		}
	}
	n.queue, n.elem = q, q.PushBack(n)
}

func (s *solver) reevaluateReverseDeps(n *sname) {
	for _, n0 := range n.rdepends {
		if n0.seen {
			n0.reevaluateDeps = true
			s.queueDirty(n0)
		}
	}
}

func (s *solver) reevaluateReverseIIF(n *sname) {
	for _, n0 := range n.rinstallIf {
		if n0.seen && !n0.noIIF {
			n0.reevaluateIIF = true
			s.queueDirty(n0)
		}
	}
}

func (s *solver) reevaluateReverseIIFOf(p *spkg) {
	s.reevaluateReverseIIF(p.name)
	for _, d := range p.provides {
		s.reevaluateReverseIIF(d.name)
	}
}

func (s *solver) disqualify(p *spkg) {
	p.selectable = false
	s.reevaluateReverseDeps(p.name)
	for _, d := range p.provides {
		s.reevaluateReverseDeps(d.name)
	}
	s.reevaluateReverseIIFOf(p)
}

// provides reports whether provider p satisfies dep of package from
// (apk_dep_is_provided). A conflict is satisfied by nothing, and a package
// never conflicts with itself.
func provides(from *spkg, dep *sdep, p provider) bool {
	if p.pkg == nil {
		return dep.Conflict
	}
	if dep.Conflict && from == p.pkg {
		return true
	}
	// An unversioned provide has version "", which apk orders below every
	// version: it satisfies only "<" atoms.
	return dep.matches(p.pkg.Checksum, p.version) != dep.Conflict
}

// matches reports whether a package with checksum, or a provide of it with
// version, satisfies the atom's "><" checksum or its version, ignoring
// the conflict flag (apk_dep_is_materialized).
func (dep *sdep) matches(checksum []byte, version string) bool {
	if dep.Op&OpChecksum != 0 {
		want, _ := ParseChecksum(dep.Version)
		return string(checksum) == string(want)
	}
	return dep.MatchesVersion(version)
}

func (s *solver) satisfiable(from *spkg, dep *sdep) bool {
	n := dep.name
	if n.locked {
		return provides(from, dep, n.chosen)
	}
	if n.requirers == 0 && provides(from, dep, noProvider) {
		return true
	}
	for _, p := range n.providers {
		if p.pkg.selectable && provides(from, dep, p) {
			return true
		}
	}
	return false
}

// discover marks everything a name can reach and gives it its order ID:
// names outside the world and names with real packages sort first.
func (s *solver) discover(n *sname) {
	if n.seen {
		return
	}
	n.seen = true
	n.noIIF = true
	virtuals := 0
	for _, p := range n.providers {
		pkg := p.pkg
		if !pkg.seen {
			pkg.seen = true
			pkg.pinningAllowed = defaultPinning
			pkg.pinningPreferred = defaultPinning
			pkg.selectable = pkg.refused == ""
			pkg.iifFailed = len(pkg.installIf) == 0
			pkg.tagPreferred = pkg.InstalledSize == 0 || pkg.repos&s.defaultRepos != 0
			pkg.tagOK = pkg.tagPreferred
			for i := range pkg.depends {
				s.discover(pkg.depends[i].name)
			}
		}
		n.noIIF = n.noIIF && pkg.iifFailed
		if pkg.name != n {
			virtuals++
		}
	}
	for _, n0 := range n.rinstallIf {
		s.discover(n0)
	}
	for _, p := range n.providers {
		for _, n0 := range p.pkg.name.rinstallIf {
			s.discover(n0)
		}
		for i := range p.pkg.provides {
			s.discover(p.pkg.provides[i].name)
		}
	}
	var flags uint32
	if !n.inWorld {
		flags |= 1 << 31
	}
	if len(n.providers) != virtuals {
		flags |= 1 << 30
	}
	s.order++
	n.orderID = int32(flags | s.order)
	for _, p := range n.providers {
		for i := range p.pkg.installIf {
			s.discover(p.pkg.installIf[i].name)
		}
	}
}

func (s *solver) requirersChanged(n *sname) {
	s.queueUnresolved(n, false)
	s.reevaluateReverseIIF(n)
	s.queueDirty(n)
}

// inheritPinning lets pkg come from the repositories its requirer parent
// may use; a nil parent is the world atom being applied.
func (s *solver) inheritPinning(pkg, parent *spkg) {
	if parent != nil {
		pkg.pinningAllowed |= parent.pinningAllowed
	} else {
		pkg.pinningAllowed |= s.pinningInherit
		pkg.pinningPreferred = s.pinningInherit
		pkg.tagPreferred = pkg.repos&s.u.reposOf(pkg.pinningPreferred) != 0
	}
	if pkg.repos&s.u.reposOf(pkg.pinningAllowed) != 0 {
		pkg.tagOK = true
	}
}

func (s *solver) applyConstraint(from *spkg, dep sdep) {
	n := dep.name
	if !dep.Conflict {
		n.requirers++
		if n.requirers == 1 {
			s.requirersChanged(n)
		}
	}
	for _, p := range n.providers {
		ok := provides(from, &dep, p)
		if !ok {
			p.pkg.conflicts++
		}
		if p.pkg.selectable && p.pkg.conflicts > 0 {
			s.disqualify(p.pkg)
		}
		if ok {
			s.inheritPinning(p.pkg, from)
		}
	}
}

// excludeNonProviders disqualifies the candidates of n that do not provide
// mustProvide, which every candidate of another required name brings along.
func (s *solver) excludeNonProviders(n, mustProvide *sname, skipVirtuals bool) {
	if n == mustProvide {
		return
	}
next:
	for _, p := range n.providers {
		if p.pkg.name == mustProvide || !p.pkg.selectable || skipVirtuals && p.virtual {
			continue
		}
		for _, d := range p.pkg.provides {
			if d.name == mustProvide || skipVirtuals && d.Op == OpAny {
				continue next
			}
		}
		s.disqualify(p.pkg)
	}
}

// mergeStep counts a name for the i-th candidate when all earlier
// candidates counted it too.
func mergeStep(counter *int, i int) bool {
	if *counter != i {
		return false
	}
	*counter = i + 1
	return true
}

// mergeDone reports whether all n candidates counted the name, and resets it.
func mergeDone(counter *int, n int) bool {
	all := *counter == n
	*counter = 0
	return all
}

// autoSelectable: a name an unversioned provide gives may be chosen only by
// a provider with a priority, or when its own package name is required
// anyway.
func autoSelectable(p provider) bool {
	return !p.virtual || p.pkg.ProviderPriority != 0 || p.pkg.name.requirers > 0
}
