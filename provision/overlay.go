package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// applyOverlays writes the hostname and authorized keys, then lays each
// overlay over the tree in order (and then the packages' add-shell lines
// over the /etc/shells they leave, see replayShells): a directory keeps what it holds and takes
// the overlay's mode, everything else replaces the tree's entry. As for a
// package's entries, a directory goes through a symlink to a directory,
// and a directory never replaces a non-directory nor the other way round.
// An overlay that is a fmt.Stringer is named by its String in errors.
func (in *installer) applyOverlays(context.Context) error {
	if in.opts.Hostname != "" {
		if err := in.putFile("etc/hostname", &rootfs.Node{Mode: 0o644, ModTime: in.time}, []byte(in.opts.Hostname+"\n")); err != nil {
			return err
		}
	}
	if len(in.opts.AuthorizedKeys) > 0 {
		if err := in.tree.MkdirAll("root", rootfs.Node{Mode: 0o700, ModTime: in.time}); err != nil {
			return err
		}
		if n, ok := in.tree.Get("root/.ssh"); ok && !n.IsDir() {
			return errors.New("/root/.ssh is not a directory")
		} else if !ok {
			if err := in.tree.Add("root/.ssh", &rootfs.Node{Mode: fs.ModeDir | 0o700, ModTime: in.time}); err != nil {
				return err
			}
		} else {
			n.Mode = fs.ModeDir | 0o700
		}
		if err := in.putFile("root/.ssh/authorized_keys", &rootfs.Node{Mode: 0o600, ModTime: in.time}, in.opts.AuthorizedKeys); err != nil {
			return err
		}
	}
	for i, o := range in.opts.Overlays {
		if err := in.overlay(o); err != nil {
			if name, ok := o.(fmt.Stringer); ok {
				return fmt.Errorf("%s: %w", name, err)
			}
			return fmt.Errorf("overlay %d: %w", i+1, err)
		}
		in.progress("overlay", i+1, len(in.opts.Overlays), "")
	}
	return in.replayShells()
}

func (in *installer) overlay(fsys fs.FS) error {
	root, err := fs.Stat(fsys, ".")
	if err != nil {
		return err
	}
	if !root.IsDir() {
		return errors.New("its root is not a directory")
	}
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n := &rootfs.Node{Mode: fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), ModTime: fi.ModTime()}
		if n.ModTime.IsZero() || n.ModTime.After(in.time) {
			n.ModTime = in.time // embed.FS has no mtimes; nothing may be newer than the build
		}
		if sys, ok := fi.Sys().(*rootfs.Node); ok {
			n.UID, n.GID, n.Xattrs = sys.UID, sys.GID, sys.Xattrs
		}
		// Where the path lands, through the symlinks of the image's
		// parent directories, as a package's entry would.
		at, err := in.physical(p)
		if err != nil {
			return err
		}
		cur, exists := in.tree.Get(at)
		if fi.IsDir() {
			// apk's rules for a package's directory: through a symlink to
			// a directory (the link stays), never over a non-directory.
			if exists && cur.Mode&fs.ModeSymlink != 0 {
				if to, err := in.tree.Resolve(at, true); err == nil {
					if dir, ok := in.tree.Get(to); ok && dir.IsDir() {
						at, cur = to, dir
					}
				}
			}
			switch {
			case !exists:
				return in.tree.Add(at, n)
			case !cur.IsDir():
				return fmt.Errorf("%q is a directory where the image has %s /%s", p, unixmode.Kind(cur.Mode), at)
			}
			cur.Mode, cur.UID, cur.GID, cur.ModTime = n.Mode, n.UID, n.GID, n.ModTime
			return nil
		}
		switch {
		case exists && cur.IsDir():
			// Replacing it would drop everything the packages put below.
			return fmt.Errorf("%q is %s where the image has a directory /%s", p, unixmode.Kind(fi.Mode()), at)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			n.Linkname = target
			return in.tree.Replace(at, n)
		case fi.Mode().IsRegular():
			n.Size = fi.Size()
			if n.Size > 0 {
				n.Content = overlayContent(fsys, p)
			}
			delete(in.sums, n)
			return in.tree.Replace(at, n)
		default:
			return fmt.Errorf("%q: %v files cannot be overlaid", p, fi.Mode().Type())
		}
	})
}

func overlayContent(fsys fs.FS, p string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return fsys.Open(p) }
}
