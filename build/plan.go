package build

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// PlanResult is what a build of the same Options would install, and why,
// found as Run finds it (the same selection, repositories, client and
// lock) without fetching a package or writing anything but the cache's
// indexes. Its JSON is the plan command's --json.
type PlanResult struct {
	Arch  string   `json:"arch"`
	World []string `json:"world"` // /etc/apk/world
	// Repositories are those read, as lines of /etc/apk/repositories,
	// each with the mirror its index came from; GuestRepositories are
	// the image's /etc/apk/repositories.
	Repositories      []string `json:"repositories"`
	GuestRepositories []string `json:"guest_repositories"`
	// Packages are in install order; the bytes are their sum
	// (CachedBytes: of those already in the cache).
	Packages       []PlannedPackage `json:"packages"`
	DownloadBytes  int64            `json:"download_bytes"`
	CachedBytes    int64            `json:"cached_bytes"`
	InstalledBytes int64            `json:"installed_bytes"`
}

// PlannedPackage is a package a build would install, with its sizes from
// the index.
type PlannedPackage struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Repository    string `json:"repository"` // as in PlanResult.Repositories
	Size          int64  `json:"size"`       // the .apk file: what a fetch downloads
	InstalledSize int64  `json:"installed_size"`
	Cached        bool   `json:"cached,omitempty"` // its file is in the cache (verified again when fetched)
	// RequiredBy is why it is installed: the world atoms and the packages
	// that require it (apk.SolveWithReasons), the world first.
	RequiredBy []Requirement `json:"required_by"`
}

// Requirement is one reason a package is installed.
type Requirement struct {
	By        string `json:"by,omitempty"` // the requiring package's name; "" for a world atom
	Atom      string `json:"atom"`         // the world atom, By's dependency, or (InstallIf) the package's own install_if atom that By satisfies
	InstallIf bool   `json:"install_if,omitempty"`
}

// Plan resolves what a build of opts would install, exactly as Run
// resolves it, and says why each package is there. Of opts, what chooses
// packages and repositories counts, and the checks of Hostname and Size
// are made (a plan that passes should not hide a build that cannot); the
// outputs are not looked at. Progress gets the resolve phase.
func Plan(ctx context.Context, opts Options) (*PlanResult, error) {
	if err := CheckHostname(opts.Hostname); err != nil {
		return nil, err
	}
	if opts.Size < 0 {
		return nil, &OptionError{Option: "Size", Err: usagef("%d is not a size", opts.Size)}
	}
	return plan(ctx, opts, true)
}

// Resolve is Plan for what only chooses packages and repositories: it
// leaves out the checks of what only a build uses (Hostname, Size,
// GuestRepositories), and the result's GuestRepositories are nil.
func Resolve(ctx context.Context, opts Options) (*PlanResult, error) {
	return plan(ctx, opts, false)
}

func plan(ctx context.Context, opts Options, guest bool) (*PlanResult, error) {
	r, err := resolveOptions(ctx, opts, guest)
	if err != nil {
		return nil, err
	}
	sol, arch := r.sol, r.client.Arch
	if r.sel.lock != nil {
		// The lock's world is one checksum atom per package: the reasons
		// are those of the world it records, solved over its packages
		// alone (which checkLock proved selects them all).
		if sol, err = apk.SolveWithReasons(r.sel.requested, onlyPackages(sol.Packages), apk.SolveOptions{Arch: arch}); err != nil {
			return nil, fmt.Errorf("explaining the lock's packages: %w", err)
		}
	}
	p := &PlanResult{Arch: arch, Repositories: usedRepositories(r.indexes, arch), GuestRepositories: r.sel.guest}
	for _, d := range r.sel.requested {
		p.World = append(p.World, d.String())
	}
	for _, pkg := range r.sol.Packages {
		pp := PlannedPackage{Name: pkg.Name, Version: pkg.Version, Size: pkg.Size, InstalledSize: pkg.InstalledSize,
			Cached: r.client.IsCached(pkg)}
		if i := slices.Index(r.indexes, pkg.Repository); i >= 0 {
			pp.Repository = p.Repositories[i]
		}
		for _, why := range sol.Reasons[pkg] {
			req := Requirement{Atom: why.Atom.String(), InstallIf: why.InstallIf}
			if why.By != nil {
				req.By = why.By.Name
			}
			pp.RequiredBy = append(pp.RequiredBy, req)
		}
		p.Packages = append(p.Packages, pp)
		p.DownloadBytes += pkg.Size
		if pp.Cached {
			p.CachedBytes += pkg.Size
		}
		p.InstalledBytes += pkg.InstalledSize
	}
	return p, nil
}

// resolution is a world resolved without a builder, for Fetch and Plan,
// which write no image.
type resolution struct {
	sel      *selection
	client   *apk.Client
	progress func(Event)
	phase    func(string, int64) func(*Stats)
	sol      *apk.Solution
	indexes  []*apk.Index
}

// resolveOptions resolves what opts select, as a build would; with
// guest, it checks the guest's repositories first, as a build does.
func resolveOptions(ctx context.Context, opts Options, guest bool) (*resolution, error) {
	r := &resolution{progress: opts.Progress}
	var err error
	if r.sel, err = newSelection(opts); err != nil {
		return nil, err
	}
	if guest {
		if err := r.sel.checkGuest(opts.GuestRepositories); err != nil {
			return nil, err
		}
	}
	if r.client, err = newClient(opts, r.sel.arch); err != nil {
		return nil, err
	}
	if r.progress == nil {
		r.progress = func(Event) {}
	}
	r.phase = func(name string, total int64) func(*Stats) {
		return startPhase(r.progress, name, total, func(time.Duration) {})
	}
	if r.sol, r.indexes, err = resolveSelection(ctx, r.client, r.sel, r.phase); err != nil {
		return nil, fmt.Errorf("resolving packages: %w", err)
	}
	return r, nil
}

// Step is one link of a chain from the world to a package.
type Step struct {
	Package   string // the package's name
	Atom      string // the atom it was chosen for (the world's, or the previous step's dependency)
	InstallIf bool   // it came in through its own install_if Atom, satisfied by the previous step
}

// Why returns the chains from the world to the package name: for each
// world atom that leads to it, the shortest chain from that atom (its
// first Step is the atom's own package), the shortest chains first, ties
// in the order of the world. It is an error when the plan does not
// install name.
func (p *PlanResult) Why(name string) ([][]Step, error) {
	byName := make(map[string]*PlannedPackage, len(p.Packages))
	for i := range p.Packages {
		byName[p.Packages[i].Name] = &p.Packages[i]
	}
	if byName[name] == nil {
		return nil, fmt.Errorf("%q is not among the %d packages the build would install", name, len(p.Packages))
	}
	// Breadth first from name up the requirements: next[n] is the step
	// after n on a shortest way down to name.
	next := map[string]*Step{name: nil}
	type found struct {
		atom  string
		chain []Step
	}
	var chains []found
	queue := []string{name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, req := range byName[n].RequiredBy {
			if req.By == "" {
				chains = append(chains, found{req.Atom, chainFrom(Step{Package: n, Atom: req.Atom}, next)})
				continue
			}
			if _, seen := next[req.By]; seen {
				continue
			}
			next[req.By] = &Step{Package: n, Atom: req.Atom, InstallIf: req.InstallIf}
			queue = append(queue, req.By)
		}
	}
	// Found in order of length; among equals, in the order of the world.
	slices.SortStableFunc(chains, func(a, b found) int {
		if d := len(a.chain) - len(b.chain); d != 0 {
			return d
		}
		return slices.Index(p.World, a.atom) - slices.Index(p.World, b.atom)
	})
	out := make([][]Step, len(chains))
	for i, c := range chains {
		out[i] = c.chain
	}
	return out, nil
}

// chainFrom follows next from first down to the end of the chain.
func chainFrom(first Step, next map[string]*Step) []Step {
	chain := []Step{first}
	for s := next[first.Package]; s != nil; s = next[s.Package] {
		chain = append(chain, *s)
	}
	return chain
}
