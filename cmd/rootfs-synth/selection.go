package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/profiles"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// selectionFlags choose what a build or a fetch installs and from where:
// the shell builder's --profile and --branch, then ours.
func selectionFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{
			Name:  "profile",
			Value: profiles.Default,
			Usage: "package profile `NAME`: " + strings.Join(profiles.Names(), ", ") +
				", a path to a profile file (one atom per line, # comments), or none",
		},
		&cli.StringFlag{Name: "branch", Value: defaultBranch, Usage: "Alpine `BRANCH` of the mirror's repositories"},
		&cli.StringSliceFlag{
			Name:    "packages",
			Aliases: []string{"p"},
			Usage:   "add `ATOM`s to the profile (repeatable; spaces or commas separate several)",
		},
		&cli.GenericFlag{
			Name:  "mirror",
			Value: &lineList{},
			Usage: "Alpine mirror `URL` (or directory laid out as a mirror; repeatable, tried in order); its " +
				"<branch>/main and <branch>/community are the repositories (default " + defaultMirror + "; none: only the --repository ones)",
		},
		&cli.StringFlag{Name: "lock", Usage: "build exactly the packages of the build report `FILE` of an earlier build (instead of --profile and --packages)"},
	}
	return append(flags, apkClientFlags()...)
}

// selection is what to install and the repositories to take it from.
type selection struct {
	branch    string
	arch      string
	world     []apk.Dependency // what the solver gets
	requested []apk.Dependency // what /etc/apk/world says
	repos     []apk.Repository
	lock      *Report
	lockPath  string
}

// newSelection reads the selection flags.
func newSelection(cCtx *cli.Context) (*selection, error) {
	s := &selection{branch: cCtx.String("branch"), arch: cCtx.String("arch")}
	// The branch is a directory of the mirror (and of fetch --dest).
	if !plainName(s.branch) {
		return nil, cli.Exit(fmt.Sprintf("--branch %q: want a branch name like %s or edge", s.branch, defaultBranch), 2)
	}
	if err := checkArchFlag(cCtx); err != nil {
		return nil, err
	}
	packages := packageAtoms(cCtx.StringSlice("packages"))
	if lock := cCtx.String("lock"); lock != "" {
		if cCtx.IsSet("profile") || len(packages) > 0 {
			return nil, cli.Exit("--lock builds exactly the locked packages: give it without --profile and --packages", 2)
		}
		if err := s.readLock(cCtx, lock); err != nil {
			return nil, err
		}
	} else {
		atoms, err := profileAtoms(cCtx.String("profile"))
		if err != nil {
			return nil, err
		}
		atoms = append(atoms, packages...)
		if len(atoms) == 0 {
			return nil, cli.Exit("nothing to install: --profile none and no --packages", 2)
		}
		for _, a := range atoms {
			d, err := apk.ParseWorldAtom(a)
			if err != nil {
				return nil, usageError("--profile/--packages: %v", err)
			}
			s.world = append(s.world, d)
		}
		s.requested = s.world
	}
	var err error
	if s.repos, err = repositories(cCtx, s.branch); err != nil {
		return nil, err
	}
	return s, nil
}

// readLock pins the selection to the packages of a build report.
func (s *selection) readLock(cCtx *cli.Context, path string) error {
	data, err := readFlagFile("--lock", path, maxLockSize)
	if err != nil {
		return err
	}
	rep, err := ReadReport(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("reading --lock %s: %w", path, err)
	}
	if rep.Arch != "" {
		if err := apk.CheckArch(rep.Arch); err != nil {
			return fmt.Errorf("reading --lock %s: %w", path, err)
		}
		if cCtx.IsSet("arch") && s.arch != rep.Arch {
			return fmt.Errorf("reading --lock %s: it is for %s, --arch says %s", path, rep.Arch, s.arch)
		}
		s.arch = rep.Arch
	}
	if s.world, err = rep.LockedWorld(); err != nil {
		return fmt.Errorf("reading --lock %s: %w", path, err)
	}
	if s.requested, err = rep.RequestedWorld(); err != nil {
		return fmt.Errorf("reading --lock %s: %w", path, err)
	}
	s.lock, s.lockPath = rep, path
	return nil
}

// maxNamed is how many packages a lock mismatch names of each kind.
const maxNamed = 3

// checkLock makes --lock mean exactly the lock's packages. pkgs are what
// its checksum atoms resolved to, which must be its package list — a
// package left out of the list is resolved fresh from its dependents, a
// version edited in the list still resolves by checksum — and its world
// solved over those packages alone must need every one of them (an
// edited world asks for more, or for less). Nil without a lock.
func (s *selection) checkLock(pkgs []*apk.Package, arch string) error {
	if s.lock == nil {
		return nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("--lock %q: %s", s.lockPath, fmt.Sprintf(format, args...))
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
		return fail("its packages do not resolve to its package list: %s", strings.Join(what, "; "))
	}

	// The world, solved over the locked packages only, must select them all.
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
	needed, err := apk.Solve(s.requested, indexes, apk.SolveOptions{Arch: arch})
	if err != nil {
		return fail("its world %q needs more than its packages: %v", s.lock.World, oneLine(err))
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
		return fail("its world %q does not need %s", s.lock.World, someOf(unneeded))
	}
	return nil
}

// someOf names the first few of names and how many there are.
func someOf(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}

// plainName reports whether s can be one path component on every OS: not
// empty, "." or "..", without a separator, space or control character.
func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsFunc(s, func(r rune) bool {
		return r == '/' || r == '\\' || r <= ' ' || r == 0x7f
	})
}

// checkArchFlag refuses an --arch that is not a plain arch name: it is a
// directory of the cache and of the repositories' URLs.
func checkArchFlag(cCtx *cli.Context) error {
	if err := apk.CheckArch(cCtx.String("arch")); err != nil {
		return usageError("--%v", err)
	}
	return nil
}

// packageAtoms splits --packages values at spaces and commas, as the
// shell builder's list was split.
func packageAtoms(values []string) []string {
	var atoms []string
	for _, v := range values {
		atoms = append(atoms, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
	}
	return atoms
}

// profileAtoms returns the atoms of a profile given by name, by path, or
// "none".
func profileAtoms(profile string) ([]string, error) {
	if profile == "none" {
		return nil, nil
	}
	if slices.Contains(profiles.Names(), profile) {
		atoms, err := profiles.Load(profile)
		if err != nil {
			return nil, fmt.Errorf("loading profile %s: %w", profile, err)
		}
		return atoms, nil
	}
	data, err := readFlagFile("--profile", profile, maxProfileSize)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("--profile %q: no such profile (%s, none) and no such file",
				profile, strings.Join(profiles.Names(), ", "))
		}
		return nil, err
	}
	atoms, err := profiles.Parse(bytes.NewReader(data), profile)
	if err != nil {
		return nil, fmt.Errorf("reading profile: %w", err)
	}
	return atoms, nil
}

// repositories are the mirrors' main and community for the branch (every
// mirror a failover of the first), then the --repository ones; --mirror
// none leaves out the mirror (e.g. to build offline from directory
// repositories alone).
func repositories(cCtx *cli.Context, branch string) ([]apk.Repository, error) {
	mirrors := cCtx.Generic("mirror").(*lineList).values
	if len(mirrors) == 0 {
		mirrors = []string{defaultMirror}
	}
	var repos []apk.Repository
	if slices.Contains(mirrors, "none") {
		if len(mirrors) > 1 {
			return nil, cli.Exit("--mirror none: give it alone (no mirror repositories at all)", 2)
		}
		mirrors = nil
	}
	for _, name := range mirrorRepositories {
		if len(mirrors) == 0 {
			break
		}
		var r apk.Repository
		for _, m := range mirrors {
			if strings.ContainsAny(m, " \t@") {
				return nil, fmt.Errorf("--mirror %q: want one URL or directory (for tags, use --repository)", m)
			}
			u := strings.TrimRight(m, `/`) + "/" + branch + "/" + name
			if !strings.Contains(m, "://") {
				u = filepath.Join(m, branch, name)
			}
			rr, err := apk.ParseRepository(u)
			if err != nil {
				return nil, fmt.Errorf("--mirror: %w", err)
			}
			r.URLs = append(r.URLs, rr.URLs...)
		}
		repos = append(repos, r)
	}
	for _, l := range cCtx.Generic("repository").(*lineList).values {
		rs, err := apk.ParseRepositoryLine(l)
		if err != nil {
			return nil, fmt.Errorf("--repository: %w", err)
		}
		repos = append(repos, rs...)
	}
	if len(repos) == 0 {
		return nil, cli.Exit("--mirror none and no --repository: no repository to install from", 2)
	}
	return repos, nil
}

// client makes the apk client of the flags, for the selection's arch,
// with the cache directory made explicit (the unpacked-file store lives
// beside the packages).
func (s *selection) client(cCtx *cli.Context, logger *slog.Logger) (*apk.Client, error) {
	c, err := apkClient(cCtx, s.arch)
	if err != nil {
		return nil, err
	}
	if c.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("finding the cache directory (give --cache-dir): %w", err)
		}
		c.CacheDir = filepath.Join(dir, "rootfs-synth")
	}
	c.Logger = logger
	return c, nil
}

// guestRepositories are the lines of the image's /etc/apk/repositories:
// the network URLs of the repositories (a local directory means nothing
// inside the guest), or the official mirror's for the branch when there
// are none.
func (s *selection) guestRepositories() []string {
	var lines []string
	for _, r := range s.repos {
		for _, u := range r.URLs {
			if strings.HasPrefix(u, "file:") {
				continue
			}
			l := u
			if r.Tag != "" {
				l = "@" + r.Tag + " " + u
			}
			lines = append(lines, l)
			break // one mirror per repository: apk reads every line as a repository
		}
	}
	if len(lines) == 0 {
		for _, name := range mirrorRepositories {
			lines = append(lines, defaultMirror+"/"+s.branch+"/"+name)
		}
	}
	return lines
}
