package provision

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sync"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/rootfs"

	"github.com/rootfs-synth/rootfs-synth/internal/bbaccounts"
	"github.com/rootfs-synth/rootfs-synth/internal/privdir"
)

// provision is Provision: the steps in order, each its own function.
func provision(ctx context.Context, opts Options) (*Result, error) {
	in, err := newInstaller(opts)
	if err != nil {
		return nil, err
	}
	steps := []struct {
		phase, what string
		run         func(context.Context) error
	}{
		{"unpack", "unpacking packages", in.unpackAll},
		{"install", "installing packages", in.installAll},
		{"triggers", "running triggers", in.runTriggers},
		{"accounts", "writing accounts", in.writeAccounts},
		{"database", "writing the apk database", in.writeDatabase},
		{"overlay", "applying overlays", in.applyOverlays},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			in.store.close()
			return nil, err
		}
		start := time.Now() // for the report only; nothing in the tree depends on it
		if err := s.run(ctx); err != nil {
			in.store.close()
			return nil, fmt.Errorf("%s: %w", s.what, err)
		}
		// Never zero, even on a coarse clock: an Elapsed is how a step's
		// last Event is told from the others.
		end := Event{Phase: s.phase, Elapsed: max(time.Since(start), time.Nanosecond)}
		in.res.Steps = append(in.res.Steps, end)
		if in.opts.Progress != nil {
			in.opts.Progress(end)
		}
	}
	res, err := in.result()
	if err != nil {
		in.store.close()
		return nil, fmt.Errorf("summing up the tree: %w", err)
	}
	return res, nil
}

// installer holds the state of one run.
type installer struct {
	opts  Options
	store *store
	time  time.Time // the filesystem time: Options.Time or the newest build time
	tree  *rootfs.Tree

	pkgs                  []*pkgState
	fileOwn               map[string]*pkgState // owner of each non-directory a package installed
	dirOwn                map[string]*dirInst  // the directory instance whose permissions a directory has
	accounts              *bbaccounts.Accounts // the tree's /etc/passwd, group and shadow, parsed when first needed
	seenUsers, seenGroups int                  // of accounts.Created() and CreatedGroups(), reported already
	accountCmds           [][]string           // the addgroup and adduser commands applied, in order
	shellCmds             [][]string           // the add-shell and remove-shell commands applied, in order
	deferred              []deferredScript     // the scripts for the first boot, in apk's order
	sums                  map[*rootfs.Node]string
	res                   *Result // filled as the steps run: the report's records, the steps' times
}

// pkgState is one package being installed.
type pkgState struct {
	rec      *apk.Package
	m        *manifest
	replaces []apk.Dependency
	dirs     []*dirInst          // in archive order; dirs[0] is the root for top-level files when needed
	dirIndex map[string]*dirInst // by path
}

// dirInst is a directory as one package has it, and the files of that
// package in it: what the installed database lists as F: with its R:s.
type dirInst struct {
	pkg      *pkgState
	path     string
	mode     int64 // permission bits as the tar says
	uid, gid uint32
	xattrs   map[string][]byte
	files    []*fileInst
}

// fileInst is a non-directory a package owns.
type fileInst struct {
	name     string // base name
	node     *rootfs.Node
	mode     int64
	uid, gid uint32
	sha1     string // hex; "" for devices and FIFOs
	removed  bool   // replaced by a later package
}

func newInstaller(opts Options) (*installer, error) {
	switch {
	case opts.StoreDir == "":
		return nil, errNoStore
	case len(opts.Packages) != len(opts.PackageFiles):
		return nil, fmt.Errorf("%d packages but %d package files", len(opts.Packages), len(opts.PackageFiles))
	case len(opts.Packages) == 0:
		return nil, errors.New("no packages to install")
	}
	// The store is trusted as the user's own: refuse one another user
	// could change (a manifest says what the image holds), and use the
	// directory checked, with its symlinks resolved.
	storeDir, err := privdir.CheckRoot(opts.StoreDir)
	if err != nil {
		return nil, err
	}
	opts.StoreDir = storeDir
	if opts.Arch == "" {
		opts.Arch = apk.HostArch()
	}
	t := opts.Time
	if t.IsZero() {
		for _, p := range opts.Packages {
			if bt := time.Unix(p.BuildTime, 0); bt.After(t) {
				t = bt
			}
		}
	}
	in := &installer{
		opts: opts, store: newStore(opts.StoreDir), time: t, tree: rootfs.New(t),
		fileOwn: map[string]*pkgState{}, dirOwn: map[string]*dirInst{},
		sums: map[*rootfs.Node]string{},
		res:  &Result{},
	}
	return in, nil
}

func (in *installer) progress(phase string, done, total int, pkg string) {
	if in.opts.Progress != nil {
		in.opts.Progress(Event{Phase: phase, Done: done, Total: total, Package: pkg})
	}
}

// unpackAll makes every package's manifest and files present in the store,
// unpacking the missing ones on every CPU.
func (in *installer) unpackAll(ctx context.Context) error {
	in.store.sweepTemps(time.Now())
	for _, dir := range []string{in.store.tempDir(), in.store.pkgDir()} {
		if err := privdir.MkdirAll(in.store.dir, dir, 0o700); err != nil {
			return err
		}
	}
	n := len(in.opts.Packages)
	in.pkgs = make([]*pkgState, n)
	errs := make([]error, n)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				p := in.opts.Packages[i]
				m, ok := in.store.loadManifest(p)
				var err error
				if !ok {
					if m, err = in.store.unpack(ctx, p, in.opts.PackageFiles[i]); err != nil {
						err = fmt.Errorf("unpacking %s: %w", p, err)
					}
				}
				mu.Lock()
				if err != nil {
					errs[i] = err
				} else {
					in.pkgs[i] = &pkgState{rec: p, m: m, dirIndex: map[string]*dirInst{}}
				}
				done++
				in.progress("unpack", done, n, p.String())
				mu.Unlock()
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// installAll installs the packages in order, each with its pre- and
// post-install effects.
func (in *installer) installAll(ctx context.Context) error {
	for i, ps := range in.pkgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, r := range ps.m.Replaces {
			d, err := apk.ParseDependency(r)
			if err != nil {
				return fmt.Errorf("package %s: replaces %q: %w", ps.rec, r, err)
			}
			ps.replaces = append(ps.replaces, d)
		}
		if err := in.runScript(ctx, ps, ".pre-install"); err != nil {
			return err
		}
		if err := in.installFiles(ps); err != nil {
			return err
		}
		// The entries are in the tree and in ps.dirs now; a big world
		// should not hold them twice.
		ps.m.Entries = nil
		if err := in.runScript(ctx, ps, ".post-install"); err != nil {
			return err
		}
		in.res.Packages = append(in.res.Packages, PackageReport{
			Name: ps.rec.Name, Version: ps.rec.Version, Arch: ps.rec.Arch,
			Checksum: apk.FormatChecksum(ps.rec.Checksum), Size: ps.rec.Size,
			InstalledSize: ps.rec.InstalledSize, Repository: repositoryOf(ps.rec),
		})
		in.progress("install", i+1, len(in.pkgs), ps.rec.String())
	}
	return nil
}

func repositoryOf(p *apk.Package) string {
	if p.Repository == nil {
		return ""
	}
	return p.Repository.Source
}

// pendingOwner is a node whose owner is resolved once the whole package
// is in the tree.
type pendingOwner struct {
	node         *rootfs.Node
	uname, gname string
	uid, gid     int
	set          func(uid, gid uint32)
}

// installFiles puts one package's entries into the tree.
func (in *installer) installFiles(ps *pkgState) error {
	var pending []pendingOwner
	touchedAccounts := false
	for i := range ps.m.Entries {
		e := &ps.m.Entries[i]
		var err error
		if e.Type == tar.TypeDir {
			err = in.installDir(ps, e, &pending)
		} else {
			err = in.installFile(ps, e, &pending)
			switch e.Name {
			case "etc/passwd", "etc/group", "etc/shadow":
				touchedAccounts = true
			}
		}
		if err != nil {
			return fmt.Errorf("package %s: %q: %w", ps.rec, "/"+e.Name, err)
		}
	}
	// Owners by name, as apk resolves them against the root's own files.
	// The package's own /etc/passwd and /etc/group count (alpine-baselayout-data
	// ships /etc/shadow owned by group shadow, defined in its /etc/group).
	if touchedAccounts || in.accounts == nil {
		if err := in.loadAccounts(); err != nil {
			return fmt.Errorf("package %s: %w", ps.rec, err)
		}
	}
	for _, p := range pending {
		uid, gid := uint32(p.uid), uint32(p.gid)
		if p.uname != "" {
			if id, ok := in.accounts.LookupUser(p.uname); ok {
				uid = id
			}
		}
		if p.gname != "" {
			if id, ok := in.accounts.LookupGroup(p.gname); ok {
				gid = id
			}
		}
		p.node.UID, p.node.GID = uid, gid
		p.set(uid, gid)
	}
	return nil
}

// physical is where an archive path lands on the root: its parent
// directories resolved through the symlinks already in the tree (a package
// shipping var/run/x where var/run -> ../run puts it in run/x, as the
// kernel would). The database keeps the archive's path, as apk does.
func (in *installer) physical(name string) (string, error) {
	dir := parentDir(name)
	if dir == "" {
		return name, nil
	}
	rd, err := in.tree.Resolve(dir, true)
	if err != nil {
		return "", err
	}
	if rd == "" {
		return name[len(dir)+1:], nil
	}
	return rd + name[len(dir):], nil
}

func (in *installer) entryNode(e *entry) *rootfs.Node {
	return &rootfs.Node{Mode: fileMode(e.Mode), ModTime: time.Unix(0, e.MTime), Xattrs: e.Xattrs}
}

// dirOf returns the package's instance of directory p, making one (and
// the tree's directory, 0755 root:root like apk's implied parents) when
// the archive did not list it.
func (in *installer) dirOf(ps *pkgState, p string) (*dirInst, error) {
	if d, ok := ps.dirIndex[p]; ok {
		return d, nil
	}
	if p != "" {
		at, err := in.physical(p)
		if err != nil {
			return nil, err
		}
		if n, ok := in.tree.Get(at); ok && !n.IsDir() {
			return nil, fmt.Errorf("%q is not a directory", "/"+at)
		}
		if err := in.tree.MkdirAll(at, rootfs.Node{Mode: 0o755, ModTime: in.time}); err != nil {
			return nil, err
		}
	}
	d := &dirInst{pkg: ps, path: p, mode: 0o755}
	ps.dirs = append(ps.dirs, d)
	ps.dirIndex[p] = d
	return d, nil
}

func (in *installer) installDir(ps *pkgState, e *entry, pending *[]pendingOwner) error {
	at, err := in.physical(e.Name)
	if err != nil {
		return err
	}
	if n, ok := in.tree.Get(at); ok && n.Mode&fs.ModeSymlink != 0 {
		// A directory entry where a symlink to a directory stands: the
		// link stays, as on a real root (mkdir -p through it).
		if at, err = in.tree.Resolve(at, true); err != nil {
			return err
		}
	}
	if n, ok := in.tree.Get(at); ok && !n.IsDir() {
		owner := "no package"
		if o := in.fileOwn[at]; o != nil {
			owner = o.rec.String()
		}
		return fmt.Errorf("is a directory in this package but not in the tree (owned by %s)", owner)
	}
	if err := in.tree.MkdirAll(parentDir(at), rootfs.Node{Mode: 0o755, ModTime: in.time}); err != nil {
		return err
	}
	d, ok := ps.dirIndex[e.Name]
	if !ok {
		d = &dirInst{pkg: ps, path: e.Name}
		ps.dirs = append(ps.dirs, d)
		ps.dirIndex[e.Name] = d
	}
	d.mode, d.xattrs = e.Mode, e.Xattrs
	n, exists := in.tree.Get(at)
	// apk_db_dir_apply_diri_permissions: the directory takes this
	// package's permissions unless its current owner wins by
	// apk_pkg_replaces_dir.
	if cur := in.dirOwn[at]; exists && cur != nil && !replacesDir(cur.pkg, ps) {
		*pending = append(*pending, pendingOwner{node: &rootfs.Node{}, uname: e.Uname, gname: e.Gname, uid: e.UID, gid: e.GID,
			set: func(uid, gid uint32) { d.uid, d.gid = uid, gid }})
		return nil
	}
	if !exists {
		n = in.entryNode(e)
		n.Mode |= fs.ModeDir
		if err := in.tree.Add(at, n); err != nil {
			return err
		}
	} else {
		n.Mode = fs.ModeDir | fileMode(e.Mode)
		n.ModTime, n.Xattrs = time.Unix(0, e.MTime), e.Xattrs
	}
	in.dirOwn[at] = d
	*pending = append(*pending, pendingOwner{node: n, uname: e.Uname, gname: e.Gname, uid: e.UID, gid: e.GID,
		set: func(uid, gid uint32) { d.uid, d.gid = uid, gid }})
	return nil
}

func (in *installer) installFile(ps *pkgState, e *entry, pending *[]pendingOwner) error {
	dir, base := path.Split(e.Name)
	d, err := in.dirOf(ps, path.Clean("/" + dir)[1:])
	if err != nil {
		return err
	}
	at, err := in.physical(e.Name)
	if err != nil {
		return err
	}
	if old, ok := in.tree.Get(at); ok {
		if old.IsDir() {
			return errors.New("is a file in this package but a directory in the tree")
		}
		if o := in.fileOwn[at]; o != nil && o != ps {
			switch replacesFile(o, ps) {
			case replacesNo:
				return nil // the earlier package keeps the file
			case replacesConflict:
				return fmt.Errorf("both %s and %s install it, and neither replaces the other", o.rec, ps.rec)
			}
			o.disown(e.Name)
		}
	}
	var n *rootfs.Node
	switch e.Type {
	case tar.TypeLink:
		linkAt, err := in.physical(e.Link)
		if err != nil {
			return err
		}
		target, ok := in.tree.Get(linkAt)
		switch owner := in.fileOwn[linkAt]; {
		case !ok || !target.Mode.IsRegular():
			return fmt.Errorf("hard link to %q, which is not a regular file of this package", "/"+e.Link)
		case owner != ps:
			// apk marks the package's files broken and goes on; an image
			// with a missing file is no image to ship.
			return fmt.Errorf("hard link to %q, which %s kept (it replaces this package's copy)", "/"+e.Link, owner.rec)
		}
		if _, exists := in.tree.Get(at); exists {
			in.tree.Remove(at)
		}
		if err := in.tree.Link(linkAt, at); err != nil {
			return err
		}
		n = target
		e.SHA1 = in.sums[target]
	default:
		n = in.entryNode(e)
		switch e.Type {
		case tar.TypeReg:
			n.Size = e.Size
			if e.Size > 0 {
				n.Content = in.store.pkgOpener(ps.rec, e)
			}
			in.sums[n] = e.SHA1
		case tar.TypeSymlink:
			n.Mode |= fs.ModeSymlink
			n.Linkname = e.Link
		case tar.TypeChar:
			n.Mode |= fs.ModeDevice | fs.ModeCharDevice
			n.Devmajor, n.Devminor = uint32(e.Devmajor), uint32(e.Devminor)
		case tar.TypeBlock:
			n.Mode |= fs.ModeDevice
			n.Devmajor, n.Devminor = uint32(e.Devmajor), uint32(e.Devminor)
		case tar.TypeFifo:
			n.Mode |= fs.ModeNamedPipe
		}
		if err := in.tree.Replace(at, n); err != nil {
			return err
		}
	}
	f := &fileInst{name: base, node: n, mode: e.Mode, sha1: e.SHA1}
	d.files = append(d.files, f)
	in.fileOwn[at] = ps
	owner := n
	if e.Type == tar.TypeLink {
		// The inode's owner is its first name's; the database records the
		// link's own header, as apk does (resolved like the others).
		owner = &rootfs.Node{}
	}
	*pending = append(*pending, pendingOwner{node: owner, uname: e.Uname, gname: e.Gname, uid: e.UID, gid: e.GID,
		set: func(uid, gid uint32) { f.uid, f.gid = uid, gid }})
	return nil
}

// disown drops p from the package's files: a later package replaced it.
func (ps *pkgState) disown(p string) {
	dir, base := path.Split(p)
	d := ps.dirIndex[path.Clean("/" + dir)[1:]]
	if d == nil {
		return
	}
	for _, f := range d.files {
		if f.name == base && !f.removed {
			f.removed = true
			return
		}
	}
}

type replaceVerdict int

const (
	replacesYes replaceVerdict = iota
	replacesNo
	replacesConflict
)

// replacesFile is apk_pkg_replaces_file for a fresh install: may b, being
// installed, take over a file that a (installed earlier) owns?
func replacesFile(a, b *pkgState) replaceVerdict {
	if a.rec.Name == b.rec.Name {
		return replacesYes
	}
	aPrio, bPrio := -1, -1
	for _, d := range a.replaces {
		if depMatches(d, b.rec) {
			aPrio = a.m.ReplacesPriority
			break
		}
	}
	for _, d := range b.replaces {
		if depMatches(d, a.rec) {
			bPrio = b.m.ReplacesPriority
			break
		}
	}
	switch {
	case aPrio > bPrio:
		return replacesNo
	case bPrio >= 0:
		return replacesYes
	case a.m.Origin != "" && a.m.Origin == b.m.Origin:
		return replacesYes
	}
	return replacesConflict
}

// replacesDir is apk_pkg_replaces_dir == APK_PKG_REPLACES_YES: does b's
// instance of a directory set its permissions over a's?
func replacesDir(a, b *pkgState) bool {
	if a.rec.Name == b.rec.Name {
		return true
	}
	if a.m.ReplacesPriority != b.m.ReplacesPriority {
		return a.m.ReplacesPriority < b.m.ReplacesPriority
	}
	if a.m.Origin != "" && a.m.Origin == b.m.Origin {
		if a.m.Origin == a.rec.Name {
			return false
		}
		if b.m.Origin == b.rec.Name {
			return true
		}
	}
	return a.rec.Name > b.rec.Name
}

// depMatches reports whether a replaces atom names package p (apk's
// apk_dep_is_materialized: the name and, if given, the version).
func depMatches(d apk.Dependency, p *apk.Package) bool {
	return d.Name == p.Name && !d.Conflict && d.MatchesVersion(p.Version)
}
