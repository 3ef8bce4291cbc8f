package build

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/files"
	"github.com/rootfs-synth/rootfs-synth/profiles"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// mirrorRepositories are the repositories of a mirror for a branch, in
// the order apk prefers them.
var mirrorRepositories = []string{"main", "community"}

// builder is one build: the Options checked and made concrete before any
// work starts, so that bad input fails before anything is fetched.
type builder struct {
	sel      *selection
	client   *apk.Client
	storeDir string
	output   string
	owner    *Owner

	imageOpts      ext4img.Options
	overlays       []fs.FS
	sourceDate     time.Time
	authorizedKeys []byte
	hostname       string
	strict         bool
	deferredDir    string // provision.Options.DeferredScriptsDir
	reportPath     string
	sbomPath       string

	usedRepositories []string // each repository with the mirror it was read from
	files            []fs.FS  // Options.Files
	inputs           *Inputs  // for the report; the overlays' digests come with provision

	progress func(Event)
	phases   []PhaseReport

	// provisionTree is provision.Provision; tests of the other steps
	// give a stand-in.
	provisionTree func(context.Context, provision.Options) (*provision.Result, error)
}

// newBuilder checks opts and fills in the defaults; it creates the
// output's directory (and the report's) and proves them writable.
func newBuilder(opts Options) (*builder, error) {
	opts, err := fromLock(opts)
	if err != nil {
		return nil, err
	}
	b := &builder{
		owner:          opts.Owner,
		hostname:       opts.Hostname,
		strict:         opts.Strict,
		deferredDir:    files.DeferredScriptsDir,
		reportPath:     opts.Report,
		sbomPath:       opts.SBOM,
		authorizedKeys: opts.AuthorizedKeys,
		imageOpts:      ext4img.Options{NoJournal: opts.NoJournal, Size: opts.Size},
		progress:       opts.Progress,
		provisionTree:  provision.Provision,
		files:          opts.Files,
	}
	if b.progress == nil {
		b.progress = func(Event) {}
	}
	if opts.NoDeferredScripts {
		b.deferredDir = ""
	}
	// Checks of the options alone first: they must not wait for anything.
	if err := CheckHostname(b.hostname); err != nil {
		return nil, err
	}
	if b.output, err = outputPath(opts.Output); err != nil {
		return nil, err
	}
	if b.reportPath != "" && sameFile(b.reportPath, b.output) {
		return nil, reportIsImage(b.reportPath, b.output)
	}
	if err := b.checkSBOMPath(); err != nil {
		return nil, err
	}
	if b.imageOpts.Size < 0 {
		return nil, &OptionError{Option: "Size", Err: usagef("%d is not a size", b.imageOpts.Size)}
	}
	if b.sel, err = newSelection(opts); err != nil {
		return nil, err
	}
	if err := b.sel.checkGuest(opts.GuestRepositories); err != nil {
		return nil, err
	}
	if b.client, err = newClient(opts, b.sel.arch); err != nil {
		return nil, err
	}
	b.inputs = newInputs(opts, b.sel.branch, b.client.Keys)
	if err := checkKeys(opts.Lock, b.inputs.Keys); err != nil {
		return nil, err
	}
	b.inputs.GuestRepositories = append([]string{}, b.sel.guest...)
	if err := checkLockedGuest(opts.Lock, b.inputs.GuestRepositories); err != nil {
		return nil, err
	}
	b.storeDir = filepath.Join(b.client.CacheDir, "unpacked")
	if opts.NoShrink && b.imageOpts.Size == 0 {
		b.imageOpts.HeadroomBlocks = NoShrinkHeadroomBytes / 4096
		b.imageOpts.HeadroomInodes = NoShrinkHeadroomInodes
	}
	b.sourceDate = opts.Time
	if b.sourceDate.IsZero() && b.sel.lock != nil && b.sel.lock.SourceDateEpoch > 0 {
		b.sourceDate = time.Unix(b.sel.lock.SourceDateEpoch, 0)
	}
	b.overlays = append([]fs.FS{files.FS()}, opts.Files...)
	if err := b.prepareOutputs(); err != nil {
		return nil, err
	}
	return b, nil
}

// CheckHostname refuses a hostname the guest's hostname(1) would (for
// Options.Hostname and the patch command's --hostname): it
// must be dot-separated labels of letters, digits and inner hyphens, at
// most 63 bytes each and 253 in all (RFC 1123). "" means none.
func CheckHostname(h string) error {
	if h == "" {
		return nil
	}
	bad := len(h) > 253
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			bad = true
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				bad = true
			}
		}
	}
	if bad {
		return &OptionError{"Hostname", h, usage("want letters, digits and hyphens in dot-separated labels (RFC 1123)")}
	}
	return nil
}

// outputPath is output made absolute, or DefaultImageName under
// ~/.sbx/images.
func outputPath(output string) (string, error) {
	if output != "" {
		return filepath.Abs(output)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory for ~/.sbx/images (give the output): %w", err)
	}
	return filepath.Join(home, ".sbx", "images", DefaultImageName), nil
}

// selection is what to install and the repositories to take it from.
type selection struct {
	branch    string
	arch      string
	world     []apk.Dependency // what the solver gets
	requested []apk.Dependency // what /etc/apk/world says
	repos     []apk.Repository
	guest     []string // the image's /etc/apk/repositories: see checkGuest
	lock      *Report
}

// newSelection reads what to install and from where.
func newSelection(opts Options) (*selection, error) {
	branch := opts.Branch
	if branch == "" && opts.Lock != nil && opts.Lock.Inputs != nil {
		branch = opts.Lock.Inputs.Branch // for Fetch too
	}
	s := &selection{branch: orDefault(branch, DefaultBranch), arch: orDefault(opts.Arch, apk.HostArch())}
	// The branch is a directory of the mirror (and of a fetched mirror).
	if !plainName(s.branch) {
		return nil, &OptionError{"Branch", s.branch, usagef("want a branch name like %s or edge", DefaultBranch)}
	}
	if err := apk.CheckArch(s.arch); err != nil {
		return nil, &OptionError{"Arch", s.arch, usage(strings.TrimPrefix(err.Error(), fmt.Sprintf("arch %q: ", s.arch)))}
	}
	if opts.Lock != nil {
		if opts.Profile != "" || len(opts.Packages) > 0 {
			return nil, &OptionError{Option: "Lock", Err: usage("builds exactly the locked packages: give it without Profile and Packages")}
		}
		if err := s.readLock(opts.Lock, opts.Arch); err != nil {
			return nil, &OptionError{Option: "Lock", Err: err}
		}
	} else {
		atoms, err := profileAtoms(orDefault(opts.Profile, profiles.Default))
		if err != nil {
			return nil, err
		}
		atoms = append(atoms, opts.Packages...)
		if len(atoms) == 0 {
			return nil, usage("nothing to install: Options.Profile none and no Options.Packages")
		}
		for _, a := range atoms {
			d, err := apk.ParseWorldAtom(a)
			if err != nil {
				return nil, &OptionError{Option: "Profile/Packages", Err: usage(err.Error())}
			}
			s.world = append(s.world, d)
		}
		s.requested = s.world
	}
	var err error
	if s.repos, err = repositories(opts.Mirrors, opts.Repositories, s.branch); err != nil {
		return nil, err
	}
	return s, nil
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readLock pins the selection to the packages of a build report; arch is
// the one asked for ("" for any: the lock's).
func (s *selection) readLock(rep *Report, arch string) error {
	if rep.Arch != "" {
		if err := apk.CheckArch(rep.Arch); err != nil {
			return err
		}
		if arch != "" && arch != rep.Arch {
			return fmt.Errorf("it is for %s, Options.Arch says %s", rep.Arch, arch)
		}
		s.arch = rep.Arch
	}
	var err error
	if s.requested, err = rep.requestedWorld(); err != nil {
		return err
	}
	if s.world, err = rep.lockedWorld(s.requested); err != nil {
		return err
	}
	s.lock = rep
	return nil
}

// plainName reports whether s can be one path component on every OS: not
// empty, "." or "..", without a separator, space or control character.
func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsFunc(s, func(r rune) bool {
		return r == '/' || r == '\\' || r <= ' ' || r == 0x7f
	})
}

// profileAtoms returns the atoms of a built-in profile, or none.
func profileAtoms(profile string) ([]string, error) {
	if profile == "none" {
		return nil, nil
	}
	if !slices.Contains(profiles.Names(), profile) {
		return nil, &OptionError{"Profile", profile, usagef("no such profile (%s, none)", strings.Join(profiles.Names(), ", "))}
	}
	atoms, err := profiles.Load(profile)
	if err != nil {
		return nil, fmt.Errorf("loading profile %s: %w", profile, err)
	}
	return atoms, nil
}

// repositories are the mirrors' main and community for the branch (every
// mirror a failover of the first), then the other repositories; mirrors
// ["none"] leaves out the mirror (e.g. to build offline from directory
// repositories alone).
func repositories(mirrors, lines []string, branch string) ([]apk.Repository, error) {
	if len(mirrors) == 0 {
		mirrors = []string{DefaultMirror}
	}
	var repos []apk.Repository
	if slices.Contains(mirrors, "none") {
		if len(mirrors) > 1 {
			return nil, &OptionError{"Mirrors", "none", usage("give it alone (no mirror repositories at all)")}
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
				return nil, &OptionError{"Mirrors", m, usage("want one URL or directory (for tags, use a repository)")}
			}
			u := strings.TrimRight(m, `/`) + "/" + branch + "/" + name
			if !strings.Contains(m, "://") {
				u = filepath.Join(m, branch, name)
			}
			rr, err := apk.ParseRepository(u)
			if err != nil {
				return nil, &OptionError{Option: "Mirrors", Err: usage(err.Error())}
			}
			r.URLs = append(r.URLs, rr.URLs...)
		}
		repos = append(repos, r)
	}
	for _, l := range lines {
		rs, err := apk.ParseRepositoryLine(l)
		if err != nil {
			return nil, &OptionError{Option: "Repositories", Err: usage(err.Error())}
		}
		repos = append(repos, rs...)
	}
	if len(repos) == 0 {
		return nil, usage("Options.Mirrors none and no Options.Repositories: no repository to install from")
	}
	return repos, nil
}

// newClient makes the apk client of opts for arch, with the cache
// directory made explicit (the unpacked-file store lives beside the
// packages), and checks the cache.
func newClient(opts Options, arch string) (*apk.Client, error) {
	keys, err := apk.AlpineKeys(arch)
	if err != nil {
		if opts.Keys == nil && !opts.AllowUntrusted {
			return nil, usagef("%v; give Options.Keys for this arch", err)
		}
		keys = apk.NewKeyRing()
	}
	if opts.Keys != nil {
		for _, name := range opts.Keys.Names() {
			if err := keys.Add(name, opts.Keys.PEM(name)); err != nil {
				return nil, &OptionError{Option: "Keys", Err: err}
			}
		}
	}
	c := &apk.Client{
		CacheDir:       opts.CacheDir,
		Keys:           keys,
		Arch:           arch,
		AllowUntrusted: opts.AllowUntrusted,
		Offline:        opts.Offline,
		HTTP:           opts.HTTP,
		Logger:         opts.Logger,
	}
	if c.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("finding the cache directory (give one): %w", err)
		}
		c.CacheDir = filepath.Join(dir, "rootfs-synth")
	}
	if err := c.CheckCache(); err != nil {
		return nil, err
	}
	return c, nil
}
