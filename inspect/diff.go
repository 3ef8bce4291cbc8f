package inspect

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/ext4fs"
)

// A Package is a package as a report or apk's database names it.
type Package struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Checksum string `json:"checksum,omitempty"` // C:, Q1 + base64 SHA-1 of the control member
}

// ReportPackages are the packages a build report lists.
func ReportPackages(r *build.Report) []Package {
	var ps []Package
	for _, p := range r.Packages {
		ps = append(ps, Package{p.Name, p.Version, p.Checksum})
	}
	return sortPackages(ps)
}

// Packages are the packages of the image: its report's, or, for an image
// without one, those apk's database lists.
func (img *Image) Packages() []Package { return ReportPackages(img.FullReport()) }

func checksumString(p *apk.Package) string {
	if p.Checksum == nil {
		return ""
	}
	return apk.FormatChecksum(p.Checksum)
}

func sortPackages(ps []Package) []Package {
	slices.SortFunc(ps, func(a, b Package) int { return cmp.Compare(a.Name, b.Name) })
	return ps
}

// A PackageChange is a package only one side has, or whose version or
// build differs: Old is empty for a package added, New for one removed.
type PackageChange struct {
	Name string `json:"name"`
	Old  string `json:"old,omitempty"` // version
	New  string `json:"new,omitempty"`
	// Rebuilt is a package of the same version whose checksum differs.
	Rebuilt bool `json:"rebuilt,omitempty"`
}

// DiffPackages returns what changed from old to new, sorted by name.
func DiffPackages(old, new []Package) []PackageChange {
	o := map[string]Package{}
	for _, p := range old {
		o[p.Name] = p
	}
	n := map[string]Package{}
	for _, p := range new {
		n[p.Name] = p
	}
	var changes []PackageChange
	for _, name := range slices.Sorted(maps.Keys(o)) {
		if _, ok := n[name]; !ok {
			changes = append(changes, PackageChange{Name: name, Old: o[name].Version})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(n)) {
		np := n[name]
		op, ok := o[name]
		switch {
		case !ok:
			changes = append(changes, PackageChange{Name: name, New: np.Version})
		case op.Version != np.Version:
			changes = append(changes, PackageChange{Name: name, Old: op.Version, New: np.Version})
		case op.Checksum != "" && np.Checksum != "" && op.Checksum != np.Checksum:
			changes = append(changes, PackageChange{Name: name, Old: op.Version, New: np.Version, Rebuilt: true})
		}
	}
	slices.SortStableFunc(changes, func(a, b PackageChange) int { return cmp.Compare(a.Name, b.Name) })
	return changes
}

// A FileChange is a path only one image has, or whose entry differs.
type FileChange struct {
	Path   string `json:"path"`
	Change string `json:"change"` // "added", "removed" or "changed"
	// What lists what differs for a changed path: "type", "mode",
	// "owner", "size", "content", "target" (a symlink's), "device",
	// "xattrs".
	What []string `json:"what,omitempty"`
	// Package is the package that owns the path in the image that has it
	// (the new one for a change), "" for a path no package owns.
	Package string `json:"package,omitempty"`
}

// DiffFiles compares the trees of two images, path by path, in the
// order of a sorted walk. Contents are compared a block at a time.
func DiffFiles(old, new *Image) ([]FileChange, error) {
	d := &differ{a: old.FS, b: new.FS, ownersA: owners(old.Installed), ownersB: owners(new.Installed),
		seenA: map[uint32]bool{}, seenB: map[uint32]bool{}}
	ra, err := old.FS.Resolve("/", false)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", old.Path, err)
	}
	rb, err := new.FS.Resolve("/", false)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", new.Path, err)
	}
	if err := d.dirs("/", ra, rb); err != nil {
		return nil, err
	}
	return d.changes, nil
}

type differ struct {
	a, b             *ext4fs.FS
	ownersA, ownersB map[string]string
	seenA, seenB     map[uint32]bool // directories walked, against loops in a corrupt image
	changes          []FileChange
	bufA, bufB       [64 << 10]byte
}

// owners maps each path apk's database lists ("/usr/bin/x") to its package.
func owners(pkgs []*apk.InstalledPackage) map[string]string {
	m := map[string]string{}
	for _, p := range pkgs {
		for _, d := range p.Dirs {
			if d.Name != "" {
				m["/"+d.Name] = p.Name
			}
			for _, f := range d.Files {
				m[path.Join("/", d.Name, f.Name)] = p.Name
			}
		}
	}
	return m
}

// maxPath is PATH_MAX: no path the kernel can open is longer, so a
// directory deeper than that is a hostile image, refused before its paths
// (each held whole) cost memory that grows with the square of the depth.
const maxPath = 4096

// tooDeep is the error of a directory whose path is longer than maxPath.
func tooDeep(p string) error {
	return fmt.Errorf("%w: directory %q... is more than %d bytes deep, longer than any path the kernel opens", ext4fs.ErrCorrupt, p[:64], maxPath)
}

// dirs compares directory p, which is ia in the old image and ib in the new.
func (d *differ) dirs(p string, ia, ib *ext4fs.Inode) error {
	if len(p) > maxPath {
		return tooDeep(p)
	}
	if d.seenA[ia.Ino] || d.seenB[ib.Ino] {
		return fmt.Errorf("%w: directory %q is met twice (a loop)", ext4fs.ErrCorrupt, p)
	}
	d.seenA[ia.Ino], d.seenB[ib.Ino] = true, true
	ea, err := d.a.ReadDirInode(ia)
	if err != nil {
		return fmt.Errorf("reading %q in the old image: %w", p, err)
	}
	eb, err := d.b.ReadDirInode(ib)
	if err != nil {
		return fmt.Errorf("reading %q in the new image: %w", p, err)
	}
	// Both are sorted by name: merge them.
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		switch {
		case j == len(eb) || i < len(ea) && ea[i].Name() < eb[j].Name():
			if err := d.one(path.Join(p, ea[i].Name()), ea[i], "removed", d.a, d.ownersA, d.seenA); err != nil {
				return err
			}
			i++
		case i == len(ea) || eb[j].Name() < ea[i].Name():
			if err := d.one(path.Join(p, eb[j].Name()), eb[j], "added", d.b, d.ownersB, d.seenB); err != nil {
				return err
			}
			j++
		default:
			if err := d.both(path.Join(p, ea[i].Name()), ea[i], eb[j]); err != nil {
				return err
			}
			i, j = i+1, j+1
		}
	}
	return nil
}

// one records a path only one image has, and everything below it.
func (d *differ) one(p string, e fs.DirEntry, change string, fsys *ext4fs.FS, own map[string]string, seen map[uint32]bool) error {
	d.changes = append(d.changes, FileChange{Path: p, Change: change, Package: own[p]})
	if !e.IsDir() {
		return nil
	}
	in, err := inode(e)
	if err != nil {
		return err
	}
	return d.below(p, in, change, fsys, own, seen)
}

// both compares a path both images have.
func (d *differ) both(p string, ea, eb fs.DirEntry) error {
	ia, err := inode(ea)
	if err != nil {
		return err
	}
	ib, err := inode(eb)
	if err != nil {
		return err
	}
	var what []string
	if ia.Mode.Type() != ib.Mode.Type() {
		// Nothing else compares across types: report the old tree's
		// entries as removed and the new one's as added below it.
		d.changes = append(d.changes, FileChange{Path: p, Change: "changed", What: []string{"type"}, Package: d.ownersB[p]})
		if ia.Mode.IsDir() {
			return d.below(p, ia, "removed", d.a, d.ownersA, d.seenA)
		}
		if ib.Mode.IsDir() {
			return d.below(p, ib, "added", d.b, d.ownersB, d.seenB)
		}
		return nil
	}
	if ia.Mode != ib.Mode {
		what = append(what, "mode")
	}
	if ia.UID != ib.UID || ia.GID != ib.GID {
		what = append(what, "owner")
	}
	if ia.Mode.IsRegular() && ia.Size != ib.Size {
		what = append(what, "size")
	}
	if ia.Linkname != ib.Linkname {
		what = append(what, "target")
	}
	if ia.Devmajor != ib.Devmajor || ia.Devminor != ib.Devminor {
		what = append(what, "device")
	}
	if !maps.EqualFunc(ia.Xattrs, ib.Xattrs, bytes.Equal) {
		what = append(what, "xattrs")
	}
	if ia.Mode.IsRegular() && ia.Size == ib.Size {
		same, err := d.sameContent(p, ia, ib)
		if err != nil {
			return err
		}
		if !same {
			what = append(what, "content")
		}
	}
	if len(what) > 0 {
		d.changes = append(d.changes, FileChange{Path: p, Change: "changed", What: what, Package: d.ownersB[p]})
	}
	if ia.Mode.IsDir() {
		return d.dirs(p, ia, ib)
	}
	return nil
}

// below records everything below directory p of one image.
func (d *differ) below(p string, in *ext4fs.Inode, change string, fsys *ext4fs.FS, own map[string]string, seen map[uint32]bool) error {
	if len(p) > maxPath {
		return tooDeep(p)
	}
	if seen[in.Ino] {
		return fmt.Errorf("%w: directory %q is met twice (a loop)", ext4fs.ErrCorrupt, p)
	}
	seen[in.Ino] = true
	ents, err := fsys.ReadDirInode(in)
	if err != nil {
		return fmt.Errorf("reading %q: %w", p, err)
	}
	for _, c := range ents {
		if err := d.one(path.Join(p, c.Name()), c, change, fsys, own, seen); err != nil {
			return err
		}
	}
	return nil
}

// sameContent compares two regular files of the same size.
func (d *differ) sameContent(p string, ia, ib *ext4fs.Inode) (bool, error) {
	ra, err := d.a.OpenInode(ia)
	if err != nil {
		return false, fmt.Errorf("reading %q in the old image: %w", p, err)
	}
	rb, err := d.b.OpenInode(ib)
	if err != nil {
		return false, fmt.Errorf("reading %q in the new image: %w", p, err)
	}
	for {
		na, errA := io.ReadFull(ra, d.bufA[:])
		nb, errB := io.ReadFull(rb, d.bufB[:])
		if errA != nil && errA != io.EOF && errA != io.ErrUnexpectedEOF {
			return false, fmt.Errorf("reading %q in the old image: %w", p, errA)
		}
		if errB != nil && errB != io.EOF && errB != io.ErrUnexpectedEOF {
			return false, fmt.Errorf("reading %q in the new image: %w", p, errB)
		}
		if na != nb || !bytes.Equal(d.bufA[:na], d.bufB[:nb]) {
			return false, nil
		}
		if errA != nil || errB != nil {
			return errA != nil && errB != nil, nil
		}
	}
}

// inode is the *ext4fs.Inode behind a directory entry of ext4fs.
func inode(e fs.DirEntry) (*ext4fs.Inode, error) {
	fi, err := e.Info()
	if err != nil {
		return nil, err
	}
	in, ok := fi.Sys().(*ext4fs.Inode)
	if !ok {
		return nil, fmt.Errorf("entry %q: no inode", e.Name())
	}
	return in, nil
}
