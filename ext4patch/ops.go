package ext4patch

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4dir"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// MaxSymlinkHops is how many symlinks one path may pass through, as the
// kernel's MAXSYMLINKS.
const MaxSymlinkHops = 40

// Put stages a regular file at name (slash-separated, from the image's
// root) with content, the permission bits and setuid, setgid and sticky
// bits of mode, the owner uid:gid and mtime. Missing parent directories
// are made, owned by root with mode 0755 and mtime mtime. An existing
// regular file keeps its inode, so its hard links see the new content; an
// existing symlink is replaced by the file; anything else is an error.
// Symlinks on the way are followed inside the image; one whose target
// climbs above the image's root is refused. content is read whole now.
func (im *Image) Put(name string, content io.Reader, mode fs.FileMode, uid, gid int, mtime time.Time) error {
	if mode.Type() != 0 {
		return fmt.Errorf("putting %q: mode %v is not a regular file's", name, mode)
	}
	if uid < 0 || gid < 0 || int64(uid) > 1<<32-1 || int64(gid) > 1<<32-1 {
		return fmt.Errorf("putting %q: owner %d:%d out of range", name, uid, gid)
	}
	data, err := io.ReadAll(content)
	if err != nil {
		return fmt.Errorf("putting %q: reading content: %w", name, err)
	}
	err = im.change(func() error {
		_, base, e, d, err := im.entry(name, true, mtime)
		if err != nil {
			return err
		}
		if e != nil {
			n, raw, err := im.inode(e.ino)
			if err != nil {
				return err
			}
			switch n.Mode & 0o170000 {
			case 0o100000:
				if err := im.releaseBlocks(e.ino, n); err != nil {
					return err
				}
				n.Mode = uint16(unixmode.Encode(mode))
				n.SetOwner(uint32(uid), uint32(gid))
				n.Flags &^= ext4format.InodeFlagHugeFile
				setTimes(n, mtime, im.now(), false)
				if err := im.writeData(e.ino, n, data); err != nil {
					return err
				}
				return im.putInode(e.ino, n, raw)
			case 0o120000:
				if err := im.removeEntry(d, e); err != nil {
					return err
				}
				if err := im.unlink(e.ino, n, raw); err != nil {
					return err
				}
			default:
				m, _ := unixmode.Decode(uint32(n.Mode))
				return fmt.Errorf("%s is there, not a regular file or symlink", unixmode.Kind(m))
			}
		}
		return im.create(d, base, data, mode, uint32(uid), uint32(gid), mtime)
	})
	if err != nil {
		return fmt.Errorf("putting %q: %w", name, err)
	}
	return nil
}

// PutDir stages a directory at name with the permission bits and setuid,
// setgid and sticky bits of mode and the owner uid:gid: made, with mtime,
// when missing (its missing parents as Put makes them), or else an
// existing directory's mode and owner changed (its entries and mtime
// kept). Anything else at name is an error. It is how a caller gives a
// directory other than root's 0755, such as /root/.ssh 0700, before
// putting files into it.
func (im *Image) PutDir(name string, mode fs.FileMode, uid, gid int, mtime time.Time) error {
	if mode.Type() != 0 && mode.Type() != fs.ModeDir {
		return fmt.Errorf("putting directory %q: mode %v is not a directory's", name, mode)
	}
	if uid < 0 || gid < 0 || int64(uid) > 1<<32-1 || int64(gid) > 1<<32-1 {
		return fmt.Errorf("putting directory %q: owner %d:%d out of range", name, uid, gid)
	}
	perm := unixmode.EncodePerm(mode)
	err := im.change(func() error {
		parent, base, e, _, err := im.entry(name, true, mtime)
		if err != nil {
			return err
		}
		if e == nil {
			_, err := im.mkdir(parent, base, perm, uint32(uid), uint32(gid), mtime)
			return err
		}
		n, raw, err := im.inode(e.ino)
		if err != nil {
			return err
		}
		if n.Mode&0o170000 != 0o040000 {
			m, _ := unixmode.Decode(uint32(n.Mode))
			return fmt.Errorf("%s is there, not a directory", unixmode.Kind(m))
		}
		n.Mode = uint16(0o040000 | perm)
		n.SetOwner(uint32(uid), uint32(gid))
		n.Ctime, n.CtimeExtra = ext4format.EncodeTime(im.now())
		return im.putInode(e.ino, n, raw)
	})
	if err != nil {
		return fmt.Errorf("putting directory %q: %w", name, err)
	}
	return nil
}

// Remove stages the removal of the file, symlink, device, FIFO, socket or
// empty directory at name (a final symlink itself, not its target).
func (im *Image) Remove(name string) error {
	err := im.change(func() error {
		parent, _, e, d, err := im.entry(name, false, time.Time{})
		if err != nil {
			return err
		}
		if e == nil {
			return fs.ErrNotExist
		}
		n, raw, err := im.inode(e.ino)
		if err != nil {
			return err
		}
		if n.Mode&0o170000 == 0o040000 {
			child, err := im.openDir(e.ino)
			if err != nil {
				return err
			}
			ents, err := im.entries(child)
			if err != nil {
				return err
			}
			if len(ents) > 2 {
				return errors.New("directory not empty")
			}
			if err := im.removeEntry(d, e); err != nil {
				return err
			}
			if err := im.releaseBlocks(e.ino, n); err != nil {
				return err
			}
			if err := im.dropXattrBlock(n); err != nil {
				return err
			}
			if err := im.freeInode(e.ino, true); err != nil {
				return err
			}
			n.LinksCount, n.Dtime = 0, uint32(im.now().Unix())
			if err := im.putInode(e.ino, n, raw); err != nil {
				return err
			}
			return im.touchDir(parent, -1)
		}
		if err := im.removeEntry(d, e); err != nil {
			return err
		}
		if err := im.unlink(e.ino, n, raw); err != nil {
			return err
		}
		return im.touchDir(parent, 0)
	})
	if err != nil {
		return fmt.Errorf("removing %q: %w", name, err)
	}
	return nil
}

// unlink drops one link of non-directory inode ino, freeing it with the
// last.
func (im *Image) unlink(ino uint32, n *ext4format.Inode, raw []byte) error {
	if n.LinksCount > 1 {
		n.LinksCount--
		n.Ctime, n.CtimeExtra = ext4format.EncodeTime(im.now())
		return im.putInode(ino, n, raw)
	}
	if n.Flags&ext4format.InodeFlagExtents != 0 {
		if err := im.releaseBlocks(ino, n); err != nil {
			return err
		}
	}
	if err := im.dropXattrBlock(n); err != nil {
		return err
	}
	if err := im.freeInode(ino, false); err != nil {
		return err
	}
	n.LinksCount, n.Dtime = 0, uint32(im.now().Unix())
	return im.putInode(ino, n, raw)
}

// touchDir sets directory ino's mtime and ctime to now and adds links to
// its link count, as dir_nlink wants it: 1 stands for more than
// ext4format.LinkMax and stays.
func (im *Image) touchDir(ino uint32, links int) error {
	n, raw, err := im.inode(ino)
	if err != nil {
		return err
	}
	switch {
	case n.LinksCount == 1:
	case links > 0 && int(n.LinksCount)+links >= ext4format.LinkMax:
		n.LinksCount = 1
	case links < 0 && n.LinksCount <= 2:
		return fmt.Errorf("directory inode %d has %d links and a subdirectory", ino, n.LinksCount)
	default:
		n.LinksCount = uint16(int(n.LinksCount) + links)
	}
	now := im.now()
	setTimes(n, now, now, false)
	return im.putInode(ino, n, raw)
}

// newInode takes a free inode and starts it: mode, owner, one link (two
// for a directory), times, extents, a generation after the slot's last.
func (im *Image) newInode(mode uint32, uid, gid uint32, mtime time.Time) (uint32, *ext4format.Inode, []byte, error) {
	dir := mode&0o170000 == 0o040000
	ino, err := im.allocInode(dir)
	if err != nil {
		return 0, nil, nil, err
	}
	old, _, err := im.inode(ino)
	if err != nil {
		return 0, nil, nil, err
	}
	raw := make([]byte, im.inodeSize)
	n := &ext4format.Inode{Mode: uint16(mode), LinksCount: 1, Generation: old.Generation + 1, Flags: ext4format.InodeFlagExtents}
	if dir {
		n.LinksCount = 2
	}
	if im.inodeSize > ext4format.GoodOldInodeSize {
		n.ExtraIsize = ext4format.InodeFixedSize - ext4format.GoodOldInodeSize
	}
	n.SetOwner(uid, gid)
	setTimes(n, mtime, im.now(), true)
	return ino, n, raw, nil
}

// create makes a new regular file name in directory d.
func (im *Image) create(d *dir, name string, data []byte, mode fs.FileMode, uid, gid uint32, mtime time.Time) error {
	ino, n, raw, err := im.newInode(unixmode.Encode(mode), uid, gid, mtime)
	if err != nil {
		return err
	}
	if err := im.writeData(ino, n, data); err != nil {
		return err
	}
	if err := im.putInode(ino, n, raw); err != nil {
		return err
	}
	if err := im.addEntry(d, ext4dir.Entry{Inode: ino, FileType: ext4format.FileTypeRegular, Name: name}); err != nil {
		return err
	}
	return im.touchDir(d.ino, 0)
}

// mkdir makes directory name in directory parent with the permission bits
// of perm (a Unix mode word's low 12 bits) and owner uid:gid.
func (im *Image) mkdir(parent uint32, name string, perm, uid, gid uint32, mtime time.Time) (uint32, error) {
	ino, n, raw, err := im.newInode(0o040000|perm&0o7777, uid, gid, mtime)
	if err != nil {
		return 0, err
	}
	g := im.geometry()
	blocks := ext4dir.Encode(&ext4dir.Dir{Ino: ino, Parent: parent}, nil, g, 1, im.inodeSeed(ino, n.Generation))
	rs, err := im.allocBlocks(1)
	if err != nil {
		return 0, err
	}
	copy(im.stageZero(rs[0].start), blocks[0])
	if _, err := im.setExtents(ino, n, rs); err != nil {
		return 0, err
	}
	n.SetFileSize(uint64(im.bs))
	n.SetBlocks512(uint64(im.bs / 512))
	if err := im.putInode(ino, n, raw); err != nil {
		return 0, err
	}
	d, err := im.openDir(parent)
	if err != nil {
		return 0, err
	}
	if err := im.addEntry(d, ext4dir.Entry{Inode: ino, FileType: ext4format.FileTypeDir, Name: name}); err != nil {
		return 0, err
	}
	return ino, im.touchDir(parent, 1)
}

// walk resolves the directories of name (making missing ones when
// create) and returns the last one's inode and the final name. Symlinks
// are followed as the guest's kernel would inside the image, but one
// whose target climbs above the root is refused: the image must not name
// what lies outside it.
func (im *Image) walk(name string, create bool, mtime time.Time) (uint32, string, error) {
	comps, err := splitPath(name)
	if err != nil {
		return 0, "", err
	}
	todo := slices.Clone(comps[:len(comps)-1])
	slices.Reverse(todo)
	stack := []uint32{ext4format.RootIno}
	hops := 0
	for len(todo) > 0 {
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 1 {
				return 0, "", errors.New("a symlink on the path leads out of the image")
			}
			stack = stack[:len(stack)-1]
			continue
		}
		cur := stack[len(stack)-1]
		e, _, err := im.lookup(cur, c)
		if err != nil {
			return 0, "", err
		}
		if e == nil {
			if !create {
				return 0, "", fs.ErrNotExist
			}
			ino, err := im.mkdir(cur, c, 0o755, 0, 0, mtime)
			if err != nil {
				return 0, "", err
			}
			stack = append(stack, ino)
			continue
		}
		n, _, err := im.inode(e.ino)
		if err != nil {
			return 0, "", err
		}
		switch n.Mode & 0o170000 {
		case 0o040000:
			stack = append(stack, e.ino)
		case 0o120000:
			if hops++; hops > MaxSymlinkHops {
				return 0, "", errors.New("too many levels of symbolic links")
			}
			target, err := im.readlink(e.ino)
			if err != nil {
				return 0, "", err
			}
			if strings.HasPrefix(target, "/") {
				stack = stack[:1]
			}
			t := strings.Split(target, "/")
			slices.Reverse(t)
			todo = append(todo, t...)
		default:
			return 0, "", fmt.Errorf("%q is not a directory", c)
		}
	}
	return stack[len(stack)-1], comps[len(comps)-1], nil
}

// entry walks to name's directory (making missing ones when create, as
// walk does) and looks name up there; e is nil when it is not there.
func (im *Image) entry(name string, create bool, mtime time.Time) (parent uint32, base string, e *dirent, d *dir, err error) {
	if parent, base, err = im.walk(name, create, mtime); err != nil {
		return 0, "", nil, nil, err
	}
	e, d, err = im.lookup(parent, base)
	return parent, base, e, d, err
}

// readlink reads a symlink's target with ext4fs, over the staged image.
func (im *Image) readlink(ino uint32) (string, error) {
	if err := im.seal(); err != nil {
		return "", err
	}
	fsys, err := ext4fs.Open(im.view(), im.size)
	if err != nil {
		return "", err
	}
	in, err := fsys.Inode(ino)
	if err != nil {
		return "", err
	}
	return in.Linkname, nil
}

// splitPath splits a path inside the image into its names; "." and ".."
// are refused, so a path cannot escape by itself.
func splitPath(name string) ([]string, error) {
	var out []string
	for c := range strings.SplitSeq(name, "/") {
		switch {
		case c == "":
			continue
		case c == "." || c == "..":
			return nil, errors.New(`"." and ".." are not allowed in a path`)
		case len(c) > ext4format.MaxNameLen:
			return nil, fmt.Errorf("name %.20q… longer than %d bytes", c, ext4format.MaxNameLen)
		case strings.IndexByte(c, 0) >= 0:
			return nil, errors.New("a NUL byte in the path")
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("the root cannot be changed")
	}
	return out, nil
}
