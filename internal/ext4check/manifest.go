// Package ext4check judges ext4 images with independent tools, for tests.
//
// ReadImage builds a Manifest of an image with debugfs
// alone — never with our own ext4 reader — batching every request into a
// few debugfs processes so that trees of 50,000 entries read back in
// seconds. FromEntries and FromDir build the Manifest the image should
// have, from ext4img entries or from a host directory; Compare lists every
// path and field that differ.
//
// Left out on purpose: names or symlink targets containing a newline (debugfs
// prints them on one line each), access/change/creation times (the writer
// derives them), directory sizes and link counts (e2fsck checks those
// against the tree it walks), and the journal and reserved inodes. Whether an
// image is consistent at all is e2fsck's to say (internal/e2fsck.Check).
package ext4check

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// Node is what a manifest knows about one path.
type Node struct {
	// Type is 'f' (regular), 'd', 'l' (symlink), 'c', 'b', 'p' (FIFO) or 's'.
	Type byte
	// Perm holds the permission bits and setuid 04000, setgid 02000 and
	// sticky 01000, as in an ext4 inode's i_mode.
	Perm     uint32
	UID, GID uint32
	// Mtime is in seconds; MtimeNsec is -1 where the source does not say.
	Mtime     int64
	MtimeNsec int64
	// Size and SHA256 (hex) of a regular file's content.
	Size   int64
	SHA256 string
	// Target of a symbolic link.
	Target string
	// Major and Minor of a device node.
	Major, Minor uint32
	// Xattrs by full name; values as raw bytes in a string.
	Xattrs map[string]string
	// Nlink is the inode's link count (not compared for directories).
	Nlink uint32
	// LinkGroup is the smallest path of the node's hard-link group, or ""
	// when the inode has one name. Directories never have one.
	LinkGroup string
}

// Manifest maps absolute slash paths ("/", "/etc/passwd") to nodes.
type Manifest map[string]*Node

// Link is a hard link as given to ext4img.Writer.Link: Path becomes another
// name of the existing non-directory Target.
type Link struct{ Path, Target string }

// Options relax Compare for sources that cannot carry every field.
type Options struct {
	// NoRootAttrs skips the root directory's permissions, owner, mtime
	// and xattrs (mke2fs -d does not copy them).
	NoRootAttrs bool
	// NoOwner skips uid and gid.
	NoOwner bool
	// NoMtime skips mtimes; NoMtimeNsec compares whole seconds only.
	NoMtime, NoMtimeNsec bool
	// NoXattrs skips extended attributes.
	NoXattrs bool
}

// Compare reports every difference between want and got, one line per path
// and field, sorted by path: "/etc/passwd: uid = 5, want 0". A /lost+found
// that only got has (the writer always makes one) is ignored.
func Compare(want, got Manifest, opts Options) []string {
	var diffs []string
	lostFound := want["/lost+found"] == nil
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if lostFound && (p == "/lost+found" || strings.HasPrefix(p, "/lost+found/")) {
			continue
		}
		if want[p] == nil {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected %s in image", p, typeName(got[p].Type)))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(want)) {
		g := got[p]
		if g == nil {
			diffs = append(diffs, fmt.Sprintf("%s: missing %s", p, typeName(want[p].Type)))
			continue
		}
		for _, d := range compareNode(want[p], g, opts, p == "/") {
			diffs = append(diffs, p+": "+d)
		}
	}
	return diffs
}

func compareNode(w, g *Node, opts Options, root bool) []string {
	var d []string
	field := func(name string, got, want any) {
		if got != want {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, got, want))
		}
	}
	if w.Type != g.Type {
		return []string{fmt.Sprintf("type = %s, want %s", typeName(g.Type), typeName(w.Type))}
	}
	rootAttrs := !(root && opts.NoRootAttrs)
	if rootAttrs {
		field("mode", fmt.Sprintf("%04o", g.Perm), fmt.Sprintf("%04o", w.Perm))
	}
	if rootAttrs && !opts.NoOwner {
		field("uid", g.UID, w.UID)
		field("gid", g.GID, w.GID)
	}
	if rootAttrs && !opts.NoMtime {
		field("mtime", g.Mtime, w.Mtime)
		// An image whose inodes lack the _extra fields (debugfs prints no
		// nanoseconds) must not pass for one that keeps them.
		switch {
		case opts.NoMtimeNsec || w.MtimeNsec < 0:
		case g.MtimeNsec < 0:
			d = append(d, fmt.Sprintf("mtime ns unknown, want %d", w.MtimeNsec))
		default:
			field("mtime ns", g.MtimeNsec, w.MtimeNsec)
		}
	}
	switch w.Type {
	case 'f':
		field("size", g.Size, w.Size)
		field("sha256", g.SHA256, w.SHA256)
	case 'l':
		field("target", fmt.Sprintf("%q", g.Target), fmt.Sprintf("%q", w.Target))
	case 'c', 'b':
		field("device", fmt.Sprintf("%d:%d", g.Major, g.Minor), fmt.Sprintf("%d:%d", w.Major, w.Minor))
	}
	if w.Type != 'd' {
		field("nlink", g.Nlink, w.Nlink)
		field("hard-link group", fmt.Sprintf("%q", g.LinkGroup), fmt.Sprintf("%q", w.LinkGroup))
	}
	if rootAttrs && !opts.NoXattrs {
		for _, name := range slices.Sorted(maps.Keys(w.Xattrs)) {
			gv, ok := g.Xattrs[name]
			switch {
			case !ok:
				d = append(d, fmt.Sprintf("xattr %s missing", name))
			case gv != w.Xattrs[name]:
				d = append(d, fmt.Sprintf("xattr %s = %s, want %s", name, short(gv), short(w.Xattrs[name])))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(g.Xattrs)) {
			if _, ok := w.Xattrs[name]; !ok {
				d = append(d, fmt.Sprintf("xattr %s unexpected (%s)", name, short(g.Xattrs[name])))
			}
		}
	}
	return d
}

// short shows an xattr value: quoted when short, else its length and digest.
func short(v string) string {
	if len(v) <= 48 {
		return fmt.Sprintf("%q", v)
	}
	sum := sha256.Sum256([]byte(v))
	return fmt.Sprintf("%d bytes sha256:%x", len(v), sum[:8])
}

func typeName(t byte) string {
	switch t {
	case 'f':
		return "regular file"
	case 'd':
		return "directory"
	case 'l':
		return "symlink"
	case 'c':
		return "character device"
	case 'b':
		return "block device"
	case 'p':
		return "FIFO"
	case 's':
		return "socket"
	}
	return fmt.Sprintf("type %q", t)
}

// manifestPath is the manifest key of a slash path relative to the root:
// "" and "." are "/", "etc/x" and "./etc/x/" are "/etc/x".
func manifestPath(p string) string { return "/" + strings.Trim(path.Clean("/"+p), "/") }

// setLinkGroups fills Nlink and LinkGroup from groups of paths sharing an
// inode (keyed by anything identifying the inode).
func setLinkGroups(m Manifest, groups map[any][]string) {
	for _, paths := range groups {
		slices.Sort(paths)
		for _, p := range paths {
			n := m[p]
			if n.Type == 'd' {
				continue
			}
			n.Nlink = uint32(len(paths))
			if len(paths) > 1 {
				n.LinkGroup = paths[0]
			}
		}
	}
}

// FromEntries returns the manifest an image written from entries and links
// must have. It opens each regular file's Content to hash it. A missing root
// entry leaves "/" out, and Compare then ignores the image's root.
func FromEntries(entries []ext4img.Entry, links []Link) (Manifest, error) {
	m := Manifest{}
	for _, e := range entries {
		p := manifestPath(e.Path)
		n := &Node{
			Type:      entryType(e.Mode),
			Perm:      unixmode.EncodePerm(e.Mode),
			UID:       e.UID,
			GID:       e.GID,
			Mtime:     e.ModTime.Unix(),
			MtimeNsec: int64(e.ModTime.Nanosecond()),
			Target:    e.Linkname,
			Major:     e.Devmajor,
			Minor:     e.Devminor,
		}
		if e.ModTime.IsZero() {
			n.Mtime, n.MtimeNsec = 0, 0
		}
		if len(e.Xattrs) > 0 {
			n.Xattrs = map[string]string{}
			for k, v := range e.Xattrs {
				n.Xattrs[k] = string(v)
			}
		}
		if n.Type == 'f' {
			n.Size = e.Size
			sum, err := hashContent(e)
			if err != nil {
				return nil, fmt.Errorf("hashing content of %s: %w", p, err)
			}
			n.SHA256 = sum
		}
		m[p] = n
	}
	groups := map[any][]string{}
	keyOf := map[string]string{} // path -> its group's key
	for p, n := range m {
		if n.Type != 'd' {
			groups[p] = []string{p}
			keyOf[p] = p
		}
	}
	for _, l := range links {
		p, target := manifestPath(l.Path), manifestPath(l.Target)
		key, ok := keyOf[target]
		if !ok {
			return nil, fmt.Errorf("linking %s to %s: no such non-directory", p, target)
		}
		c := *m[target]
		m[p] = &c
		keyOf[p] = key
		groups[key] = append(groups[key], p)
	}
	setLinkGroups(m, groups)
	return m, nil
}

func hashContent(e ext4img.Entry) (string, error) {
	h := sha256.New()
	if e.Content != nil {
		rc, err := e.Content()
		if err != nil {
			return "", err
		}
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return "", err
		}
		if n != e.Size {
			return "", fmt.Errorf("content has %d bytes, Size says %d", n, e.Size)
		}
	} else if e.Size != 0 {
		return "", fmt.Errorf("no content for size %d", e.Size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func entryType(m fs.FileMode) byte {
	switch {
	case m&fs.ModeDir != 0:
		return 'd'
	case m&fs.ModeSymlink != 0:
		return 'l'
	case m&fs.ModeCharDevice != 0:
		return 'c'
	case m&fs.ModeDevice != 0:
		return 'b'
	case m&fs.ModeNamedPipe != 0:
		return 'p'
	case m&fs.ModeSocket != 0:
		return 's'
	}
	return 'f'
}
