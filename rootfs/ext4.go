package rootfs

import (
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
)

// AddTo records the tree in w: every path in order, the first path of a
// shared node as an entry and the others as hard links. The writer calls
// the nodes' Content later, from its own goroutines.
func (t *Tree) AddTo(w *ext4img.Writer) error {
	first := make(map[*Node]string) // of linked nodes only: links are rare
	return t.Walk(func(p string, n *Node) error {
		if !t.linked[n] {
			return w.Add(n.Entry(p))
		}
		if prev, ok := first[n]; ok {
			return w.Link(prev, p)
		}
		first[n] = p
		return w.Add(n.Entry(p))
	})
}

// Entry returns the ext4img entry for n at path p.
func (n *Node) Entry(p string) ext4img.Entry {
	return ext4img.Entry{
		Path: p, Mode: n.Mode, UID: n.UID, GID: n.GID, ModTime: n.ModTime,
		Size: n.Size, Content: n.Content, Linkname: n.Linkname,
		Devmajor: n.Devmajor, Devminor: n.Devminor, Xattrs: n.Xattrs,
	}
}

// ClampTimes sets every mtime later than limit to limit (the
// SOURCE_DATE_EPOCH rule) and returns how many nodes it changed.
func (t *Tree) ClampTimes(limit time.Time) int {
	changed := 0
	for _, n := range t.nodes {
		// A hard-linked node is met again already clamped: counted once.
		if n.ModTime.After(limit) {
			n.ModTime = limit
			changed++
		}
	}
	return changed
}
