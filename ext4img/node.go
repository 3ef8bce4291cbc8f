package ext4img

import (
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// node is one inode of the tree; hard links share a node. It holds what
// the image needs of an Entry, compactly: a tree of a million entries is
// a million nodes, so a node is 48 bytes, what a regular file from a
// walk needs (Options.Files opens it), and the rest sits behind more:
// symlink target, device numbers, xattrs, Content, and for a directory
// its entries and parent. There is no map by path: names are looked up
// in their directory.
type node struct {
	mode     fs.FileMode
	uid, gid uint32
	ino      uint32
	nlink    uint32
	mnsec    int32 // ModTime's nanoseconds; -1: no ModTime (Options.Time stands in)
	msec     int64 // ModTime's Unix seconds
	size     int64
	more     *nodeMore
}

// nodeMore is what only some inodes have.
type nodeMore struct {
	linkname           string
	devmajor, devminor uint32
	xattrs             map[string][]byte
	content            func() (io.ReadCloser, error)
	dir                *dirNode // directories only
}

// dirNode is a directory's parent and list of entries: a prefix sorted
// by name, found by binary search, then a tail of names added out of
// order, found through a map. A sorted walk never makes a tail;
// otherwise the tail is merged into the prefix when it grows past an
// eighth of it (at least 16 names), so maps stay small and the sorting
// costs O(log n) per name.
type dirNode struct {
	parent   *node // the root's is itself
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
	n := &node{nlink: 1}
	n.set(e)
	if e.Mode.IsDir() {
		n.nlink = 2
		m := n.extra()
		m.dir = &dirNode{parent: parent}
		n.more = &m
	}
	return n
}

// set copies e's attributes into n; e.Xattrs is copied already.
func (n *node) set(e *Entry) {
	n.mode, n.uid, n.gid, n.size = e.Mode, e.UID, e.GID, e.Size
	n.msec, n.mnsec = 0, -1
	if !e.ModTime.IsZero() {
		n.msec, n.mnsec = e.ModTime.Unix(), int32(e.ModTime.Nanosecond())
	}
	d := n.dir()
	n.more = nil
	if e.Linkname != "" || e.Devmajor != 0 || e.Devminor != 0 || len(e.Xattrs) > 0 || e.Content != nil || d != nil {
		n.more = &nodeMore{linkname: e.Linkname, devmajor: e.Devmajor, devminor: e.Devminor, xattrs: e.Xattrs, content: e.Content, dir: d}
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

func (n *node) content() func() (io.ReadCloser, error) { return n.extra().content }

// children is a directory's entries (sorted once Layout ran), nil for
// anything else.
func (n *node) children() []dirent {
	if n.dir() == nil {
		return nil
	}
	return n.dir().children
}

// errFound stops eachName once path found its node.
var errFound = errors.New("found")

// path is a name of n as a clean path, "" for the root, for errors: a
// directory's is found through its parents, anything else's by
// searching the tree from root (nodes keep no name, and only
// directories their parent), so it may take its time.
func (n *node) path(root *node) string {
	if n.dir() == nil {
		var found string
		eachName(root, func(c dirent, name string) error {
			if c.n == n {
				found = name
				return errFound
			}
			return nil
		})
		return found
	}
	var names []string
	for d := n; d.dir().parent != nil && d.dir().parent != d; d = d.dir().parent {
		name := "?"
		for _, c := range d.dir().parent.children() {
			if c.n == d {
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
