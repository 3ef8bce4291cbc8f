package ext4img

import (
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// node is one inode of the tree; hard links share a node. It holds what
// the image needs of an Entry, compactly: a tree of a million entries is
// a million nodes, so rare fields (symlink target, device numbers,
// xattrs) sit behind more and directory fields behind dir, and there is
// no map by path: names are looked up in their directory.
type node struct {
	parent   *node // the directory holding the first name; the root's is itself
	mode     fs.FileMode
	uid, gid uint32
	ino      uint32
	nlink    uint32
	mnsec    int32 // ModTime's nanoseconds; -1: no ModTime (Options.Time stands in)
	msec     int64 // ModTime's Unix seconds
	size     int64
	content  func() (io.ReadCloser, error)
	more     *nodeMore // symlinks, devices, xattrs, directories
}

// nodeMore is what only symlinks, devices and inodes with xattrs have.
type nodeMore struct {
	linkname           string
	devmajor, devminor uint32
	xattrs             map[string][]byte
	dir                *dirNode // directories only
}

// dirNode is a directory's list of entries: a prefix sorted by name,
// found by binary search, then a tail of names added out of order, found
// through a map. A sorted walk never makes a tail; otherwise the tail is
// merged into the prefix when it grows past an eighth of it (at least 16
// names), so maps stay small and the sorting costs O(log n) per name.
type dirNode struct {
	children []dirent
	sorted   int              // children[:sorted] are in name order
	tail     map[string]*node // the names of children[sorted:]
}

type dirent struct {
	name string
	n    *node
}

// newNode converts e (checked, its path clean) into a node whose first
// name will be in parent.
func newNode(e *Entry, parent *node) *node {
	n := &node{parent: parent, nlink: 1}
	n.set(e)
	if e.Mode.IsDir() {
		n.nlink = 2
		n.more = &nodeMore{linkname: n.extra().linkname, xattrs: n.extra().xattrs, dir: &dirNode{}}
	}
	return n
}

// set copies e's attributes into n; e.Xattrs is copied already.
func (n *node) set(e *Entry) {
	n.mode, n.uid, n.gid, n.size, n.content = e.Mode, e.UID, e.GID, e.Size, e.Content
	n.msec, n.mnsec = 0, -1
	if !e.ModTime.IsZero() {
		n.msec, n.mnsec = e.ModTime.Unix(), int32(e.ModTime.Nanosecond())
	}
	d := n.dir()
	n.more = nil
	if e.Linkname != "" || e.Devmajor != 0 || e.Devminor != 0 || len(e.Xattrs) > 0 || d != nil {
		n.more = &nodeMore{linkname: e.Linkname, devmajor: e.Devmajor, devminor: e.Devminor, xattrs: e.Xattrs, dir: d}
	}
}

// modTime is the entry's ModTime, zero when it had none.
func (n *node) modTime() time.Time {
	if n.mnsec < 0 {
		return time.Time{}
	}
	return time.Unix(n.msec, int64(n.mnsec))
}

func (n *node) extra() nodeMore {
	if n.more == nil {
		return nodeMore{}
	}
	return *n.more
}

// dir is a directory's entries, nil for anything else.
func (n *node) dir() *dirNode { return n.extra().dir }

func (n *node) linkname() string { return n.extra().linkname }

func (n *node) xattrs() map[string][]byte { return n.extra().xattrs }

// children is a directory's entries (sorted once Layout ran), nil for
// anything else.
func (n *node) children() []dirent {
	if n.dir() == nil {
		return nil
	}
	return n.dir().children
}

// path is n's first name as a clean path, "" for the root: it names n in
// errors, so it may take its time (nodes keep no name, only their
// parent, whose entries are searched for the node).
func (n *node) path() string {
	var names []string
	for ; n.parent != nil && n.parent != n; n = n.parent {
		name := "?"
		for _, c := range n.parent.children() {
			if c.n == n {
				name = c.name
				break
			}
		}
		names = append(names, name)
	}
	slices.Reverse(names)
	return strings.Join(names, "/")
}

// lookup returns the entry name of directory d, or nil.
func (d *dirNode) lookup(name string) *node {
	i, found := slices.BinarySearchFunc(d.children[:d.sorted], name, func(c dirent, name string) int { return strings.Compare(c.name, name) })
	if found {
		return d.children[i].n
	}
	return d.tail[name]
}

// insert adds an entry that lookup did not find.
func (d *dirNode) insert(name string, n *node) {
	if d.tail == nil && (d.sorted == 0 || d.children[d.sorted-1].name < name) {
		d.children = append(d.children, dirent{name, n})
		d.sorted++
		return
	}
	if d.tail == nil {
		d.tail = map[string]*node{}
	}
	d.tail[name] = n
	d.children = append(d.children, dirent{name, n})
	if len(d.tail) > max(16, d.sorted/8) {
		d.sort()
	}
}

// sort puts all entries in name order and drops the tail's map.
func (d *dirNode) sort() {
	if d.tail == nil {
		return // in order already
	}
	slices.SortFunc(d.children, func(a, b dirent) int { return strings.Compare(a.name, b.name) })
	d.sorted, d.tail = len(d.children), nil
}
