package build

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// maxNamed is how many packages a lock mismatch names of each kind.
const maxNamed = 3

// checkLock makes a lock mean exactly the lock's packages. pkgs are what
// its checksum atoms resolved to, which must be its package list — a
// package left out of the list is resolved fresh from its dependents, a
// version edited in the list still resolves by checksum — and its world
// solved over those packages alone must need every one of them (an
// edited world asks for more, or for less). Nil without a lock.
func (s *selection) checkLock(pkgs []*apk.Package, arch string) error {
	if s.lock == nil {
		return nil
	}
	locked := make(map[string]provision.PackageReport, len(s.lock.Packages))
	for _, p := range s.lock.Packages {
		locked[p.Name] = p
	}
	var extra, changed []string
	resolved := make(map[string]bool, len(pkgs))
	for _, p := range pkgs {
		resolved[p.Name] = true
		l, ok := locked[p.Name]
		switch {
		case !ok:
			extra = append(extra, p.String())
		case l.Version != p.Version || l.Checksum != apk.FormatChecksum(p.Checksum):
			changed = append(changed, fmt.Sprintf("%s (the lock says %q)", p, l.Version))
		}
	}
	var missing []string
	for _, p := range s.lock.Packages {
		if !resolved[p.Name] {
			missing = append(missing, strconv.Quote(p.Name+"-"+p.Version))
		}
	}
	var what []string
	if len(extra) > 0 {
		what = append(what, "needed but not in it: "+someOf(extra))
	}
	if len(missing) > 0 {
		what = append(what, "in it but not resolved: "+someOf(missing))
	}
	if len(changed) > 0 {
		what = append(what, "another version: "+someOf(changed))
	}
	if len(what) > 0 {
		return fmt.Errorf("its packages do not resolve to its package list: %s", strings.Join(what, "; "))
	}

	// The world, solved over the locked packages only, must select them all.
	needed, err := apk.Solve(s.requested, onlyPackages(pkgs), apk.SolveOptions{Arch: arch})
	if err != nil {
		return fmt.Errorf("its world %q needs more than its packages: %v", s.lock.World, err)
	}
	if len(needed) != len(pkgs) {
		selected := make(map[string]bool, len(needed))
		for _, p := range needed {
			selected[p.Name] = true
		}
		var unneeded []string
		for _, p := range pkgs {
			if !selected[p.Name] {
				unneeded = append(unneeded, p.String())
			}
		}
		return fmt.Errorf("its world %q does not need %s", s.lock.World, someOf(unneeded))
	}
	return nil
}

// onlyPackages are the indexes of pkgs holding only pkgs.
func onlyPackages(pkgs []*apk.Package) []*apk.Index {
	only := make(map[*apk.Package]bool, len(pkgs))
	var indexes []*apk.Index
	for _, p := range pkgs {
		only[p] = true
	}
	seen := map[*apk.Index]bool{}
	for _, p := range pkgs {
		if idx := p.Repository; idx != nil && !seen[idx] {
			seen[idx] = true
			c := *idx
			c.Packages = slices.DeleteFunc(slices.Clone(idx.Packages), func(q *apk.Package) bool { return !only[q] })
			indexes = append(indexes, &c)
		}
	}
	return indexes
}

// someOf names the first few of names and how many there are.
func someOf(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}
