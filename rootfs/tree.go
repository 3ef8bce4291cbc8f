// Package rootfs is the root filesystem as a plain data tree: every path
// with its owner, mode, mtime, xattrs and, for a regular file, a reference
// to its content — never the content itself, which stays on disk (a host
// file, a file in the unpacked-file store, a spool) until the image writer
// opens it.
//
// A Tree is sorted and mutable: provisioning installs packages into it,
// replaces and removes paths, adds links and overlays. (mkfs makes none:
// it streams a host directory into the image writer as it walks it.)
// Iteration (Walk, Paths) is always in byte order of the path, which puts
// every directory before what it holds. Hard links are paths that share
// one *Node. FS gives an io/fs view for reading back (testing/fstest works
// on it), and AddTo feeds the tree to an ext4img Writer.
//
// Left out on purpose: path resolution through symlinks (a Tree is what
// will be on disk, not a running system: callers that need "what would the
// guest see at /bin/sh" follow links themselves, see Resolve), access and
// change times (the image writer derives them), and concurrency (a Tree is
// not safe for concurrent mutation).
package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// MaxSymlinkHops bounds Resolve, like the kernel's MAXSYMLINKS (40).
const MaxSymlinkHops = 40

// Node is one inode of the tree. Paths that share a *Node are hard links
// of each other; directories are never shared.
type Node struct {
	// Mode holds the type (fs.ModeDir, fs.ModeSymlink, fs.ModeDevice,
	// fs.ModeCharDevice, fs.ModeNamedPipe, fs.ModeSocket; none for a
	// regular file), the permission bits and fs.ModeSetuid, fs.ModeSetgid
	// and fs.ModeSticky.
	Mode     fs.FileMode
	UID, GID uint32
	ModTime  time.Time

	// Size is a regular file's length in bytes; Content opens it (nil
	// when Size is zero). Content may be called any number of times,
	// concurrently, and must give the same Size bytes each time.
	Size    int64
	Content func() (io.ReadCloser, error)

	// Linkname is a symlink's target.
	Linkname string

	// Devmajor and Devminor are a device node's numbers.
	Devmajor, Devminor uint32

	// Xattrs by full name ("security.capability"). The Tree owns the map
	// once the node is added.
	Xattrs map[string][]byte
}

// IsDir reports whether n is a directory.
func (n *Node) IsDir() bool { return n.Mode.IsDir() }

// Tree is a root filesystem. The zero value is not usable; call New.
type Tree struct {
	nodes  map[string]*Node // by clean path; "" is the root
	sorted []string         // the keys of nodes in order, or nil when stale
	linked map[*Node]bool   // nodes given a second path by Link
}

// New returns a tree holding only the root directory, 0755 root:root with
// the given mtime.
func New(mtime time.Time) *Tree {
	return &Tree{nodes: map[string]*Node{"": {Mode: fs.ModeDir | 0o755, ModTime: mtime}}}
}

// Linked reports whether n was given more than one path by Link (it may
// have one left after removals).
func (t *Tree) Linked(n *Node) bool {
	return t.linked[n]
}

// Clean checks a slash-separated path and returns its canonical form in
// the tree: relative, without "./", a trailing slash or empty components;
// "" is the root ("/", "." and "" all name it). ".." is refused.
func Clean(p string) (string, error) {
	if isClean(p) {
		return p, nil // the common case, without allocating
	}
	p = strings.Trim(p, "/")
	for strings.HasPrefix(p, "./") {
		p = strings.TrimLeft(p[2:], "/")
	}
	if p == "." || p == "" {
		return "", nil
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q has a NUL byte", p)
	}
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, c := range parts {
		switch c {
		case "", ".":
		case "..":
			return "", fmt.Errorf("path %q has a \"..\" component", p)
		default:
			out = append(out, c)
		}
	}
	return strings.Join(out, "/"), nil
}

// parent returns the directory part of a clean path ("" for top-level
// names).
func parent(p string) string {
	d := path.Dir(p)
	if d == "." {
		return ""
	}
	return d
}

// Len returns the number of paths, the root included.
func (t *Tree) Len() int { return len(t.nodes) }

// Get returns the node at p.
func (t *Tree) Get(p string) (*Node, bool) {
	cp, err := Clean(p)
	if err != nil {
		return nil, false
	}
	n, ok := t.nodes[cp]
	return n, ok
}

// Root returns the root directory's node.
func (t *Tree) Root() *Node { return t.nodes[""] }

// ErrExist and ErrNotExist are wrapped by the errors of Add, Link, Remove
// and MkdirAll.
var (
	ErrExist    = fs.ErrExist
	ErrNotExist = fs.ErrNotExist
)

// Add puts n at p. The parent must be a directory in the tree; p must not
// exist (see Replace). The root cannot be added; change Root() instead.
// Hard links are made with Link only: a node must not be added at two
// paths.
func (t *Tree) Add(p string, n *Node) error {
	cp, err := t.checkNew(p)
	if err != nil {
		return err
	}
	t.put(cp, n)
	return nil
}

// Replace puts n at p whether or not p exists. A directory replaced by a
// non-directory, or the other way round, loses what it held. The parent
// must be a directory.
func (t *Tree) Replace(p string, n *Node) error {
	cp, err := Clean(p)
	if err != nil {
		return fmt.Errorf("replacing %s: %w", p, err)
	}
	if cp == "" {
		return errors.New("replacing the root: change Root() instead")
	}
	if old, ok := t.nodes[cp]; ok {
		if old.IsDir() && !n.IsDir() {
			t.removeBelow(cp)
		}
		if old.IsDir() && n.IsDir() {
			t.nodes[cp] = n
			return nil
		}
		delete(t.nodes, cp)
		t.sorted = nil
	}
	return t.Add(cp, n)
}

// Link makes newname another name of the non-directory at oldname, in
// os.Link's order. newname must not exist yet.
func (t *Tree) Link(oldname, newname string) error {
	ct, err := Clean(oldname)
	if err != nil {
		return fmt.Errorf("linking %s to %s: %w", newname, oldname, err)
	}
	n, ok := t.nodes[ct]
	switch {
	case !ok:
		return fmt.Errorf("linking %s to %s: target: %w", newname, ct, ErrNotExist)
	case n.IsDir():
		return fmt.Errorf("linking %s to %s: target is a directory", newname, ct)
	}
	cp, err := t.checkNew(newname)
	if err != nil {
		return err
	}
	t.put(cp, n)
	if t.linked == nil {
		t.linked = map[*Node]bool{}
	}
	t.linked[n] = true
	return nil
}

// MkdirAll makes p and any missing parents directories with the
// attributes of proto (its Mode's permission bits, owner, mtime); existing
// directories are left as they are. A non-directory in the way is an error.
func (t *Tree) MkdirAll(p string, proto Node) error {
	cp, err := Clean(p)
	if err != nil {
		return fmt.Errorf("making directory %s: %w", p, err)
	}
	if cp == "" {
		return nil
	}
	if n, ok := t.nodes[cp]; ok {
		if !n.IsDir() {
			return fmt.Errorf("making directory %s: %s is not a directory", cp, cp)
		}
		return nil
	}
	if err := t.MkdirAll(parent(cp), proto); err != nil {
		return err
	}
	d := proto
	d.Mode = fs.ModeDir | proto.Mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	d.Size, d.Content, d.Linkname, d.Xattrs = 0, nil, "", nil
	t.put(cp, &d)
	return nil
}

// Remove deletes p and, for a directory, everything below it. Removing a
// path that does not exist is an error wrapping ErrNotExist.
func (t *Tree) Remove(p string) error {
	cp, err := Clean(p)
	if err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	if cp == "" {
		return errors.New("removing the root directory")
	}
	n, ok := t.nodes[cp]
	if !ok {
		return fmt.Errorf("removing %s: %w", cp, ErrNotExist)
	}
	if n.IsDir() {
		t.removeBelow(cp)
	}
	delete(t.nodes, cp)
	t.sorted = nil
	return nil
}

func (t *Tree) removeBelow(dir string) {
	prefix := dir + "/"
	for p := range t.nodes {
		if strings.HasPrefix(p, prefix) {
			delete(t.nodes, p)
		}
	}
	t.sorted = nil
}

func (t *Tree) checkNew(p string) (string, error) {
	cp, err := Clean(p)
	if err != nil {
		return "", fmt.Errorf("adding %s: %w", p, err)
	}
	if cp == "" {
		return "", fmt.Errorf("adding the root: %w", ErrExist)
	}
	if _, ok := t.nodes[cp]; ok {
		return "", fmt.Errorf("adding %s: %w", cp, ErrExist)
	}
	dir := parent(cp)
	d, ok := t.nodes[dir]
	switch {
	case !ok:
		return "", fmt.Errorf("adding %s: parent directory /%s: %w", cp, dir, ErrNotExist)
	case !d.IsDir():
		return "", fmt.Errorf("adding %s: /%s is not a directory", cp, dir)
	}
	return cp, nil
}

func (t *Tree) put(p string, n *Node) {
	t.nodes[p] = n
	t.sorted = nil
}

// Paths returns every path in byte order; the root "" comes first and
// every directory before its contents. The slice is the tree's own: do
// not modify it, and call Paths again after changing the tree.
func (t *Tree) Paths() []string {
	if t.sorted == nil {
		t.sorted = slices.Sorted(maps.Keys(t.nodes))
	}
	return t.sorted
}

// Walk calls fn for every path in the order of Paths. fn must not change
// the tree; an error from fn stops the walk and is returned.
func (t *Tree) Walk(fn func(p string, n *Node) error) error {
	for _, p := range t.Paths() {
		if err := fn(p, t.nodes[p]); err != nil {
			return err
		}
	}
	return nil
}

// Children returns the names directly below the directory dir, sorted.
func (t *Tree) Children(dir string) []string {
	cd, err := Clean(dir)
	if err != nil {
		return nil
	}
	paths := t.Paths()
	prefix := cd + "/"
	if cd == "" {
		prefix = ""
	}
	i, _ := slices.BinarySearch(paths, prefix)
	var names []string
	for ; i < len(paths); i++ {
		p := paths[i]
		if !strings.HasPrefix(p, prefix) {
			break
		}
		rest := p[len(prefix):]
		if rest != "" && !strings.Contains(rest, "/") {
			names = append(names, rest)
		}
	}
	return names
}

// Resolve follows symlinks in p as the guest's kernel would, within the
// tree (absolute targets are relative to its root), and returns the clean
// path of what p names. The last component is followed too when follow is
// set. A dangling link resolves to the path it names (which does not exist).
func (t *Tree) Resolve(p string, follow bool) (string, error) {
	cp, err := Clean(p)
	if err != nil {
		return "", err
	}
	hops := 0
	var walk func(done string, rest []string) (string, error)
	walk = func(done string, rest []string) (string, error) {
		for i, c := range rest {
			next := path.Join(done, c)
			if c == ".." {
				next = parent(done)
			}
			n, ok := t.nodes[next]
			last := i == len(rest)-1
			if ok && n.Mode&fs.ModeSymlink != 0 && (!last || follow) {
				hops++
				if hops > MaxSymlinkHops {
					return "", fmt.Errorf("resolving %s: more than %d symlinks", cp, MaxSymlinkHops)
				}
				base := done
				if strings.HasPrefix(n.Linkname, "/") {
					base = ""
				}
				target := strings.Split(strings.Trim(n.Linkname, "/"), "/")
				resolved, err := walk(base, target)
				if err != nil {
					return "", err
				}
				next = resolved
			}
			done = strings.TrimPrefix(next, "/")
			if done == "." {
				done = ""
			}
		}
		return done, nil
	}
	if cp == "" {
		return "", nil
	}
	return walk("", strings.Split(cp, "/"))
}

// isClean reports whether p is already in the form Clean returns: no
// leading or trailing slash, no empty, "." or ".." component, no NUL.
func isClean(p string) bool {
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			if p[i] == 0 {
				return false
			}
			continue
		}
		switch p[start:i] {
		case "", ".", "..":
			return p == ""
		}
		start = i + 1
	}
	return true
}
