package ext4check

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// FromDir returns the manifest of a host directory tree: lstat, never
// following symlinks, and the xattrs the caller may read (trusted.* needs
// root). Hard-link groups are by (device, inode) within the tree. It reads
// the host through internal/hostfs, as rootfs-synth mkfs does.
func FromDir(dir string) (Manifest, error) {
	m := Manifest{}
	groups := map[any][]string{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := manifestPath(filepath.ToSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, mode := hostfs.StatOf(fi), fi.Mode()
		n := &Node{
			Perm:      unixmode.EncodePerm(mode),
			UID:       st.UID,
			GID:       st.GID,
			Mtime:     fi.ModTime().Unix(),
			MtimeNsec: int64(fi.ModTime().Nanosecond()),
		}
		switch mode.Type() {
		case 0:
			n.Type, n.Size = 'f', fi.Size()
			if n.SHA256, err = hashFile(p); err != nil {
				return err
			}
		case fs.ModeDir:
			n.Type = 'd'
		case fs.ModeSymlink:
			n.Type = 'l'
			if n.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case fs.ModeDevice | fs.ModeCharDevice:
			n.Type, n.Major, n.Minor = 'c', st.Major, st.Minor
		case fs.ModeDevice:
			n.Type, n.Major, n.Minor = 'b', st.Major, st.Minor
		case fs.ModeNamedPipe:
			n.Type = 'p'
		case fs.ModeSocket:
			n.Type = 's'
		default:
			return fmt.Errorf("%s: unsupported file type %v", p, mode.Type())
		}
		x, err := hostfs.Xattrs(p)
		if err != nil {
			return err
		}
		for k, v := range x {
			if n.Xattrs == nil {
				n.Xattrs = map[string]string{}
			}
			n.Xattrs[k] = string(v)
		}
		m[key] = n
		if n.Type != 'd' {
			id := [2]uint64{st.Dev, st.Ino}
			groups[id] = append(groups[id], key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tree %s: %w", dir, err)
	}
	setLinkGroups(m, groups)
	return m, nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
