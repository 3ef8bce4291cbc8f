package ext4fs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

var (
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.ReadLinkFS = (*FS)(nil)
)

// errLoop is returned when a lookup follows more than MaxSymlinkHops links.
var errLoop = errors.New("too many levels of symbolic links")

// lookup resolves name (an io/fs path) from the root, following symlinks
// inside the image as the kernel would (absolute targets start again at
// the image's root, ".." of the root is the root) and, when follow is
// set, the last component too.
func (f *FS) lookup(name string, follow bool) (*Inode, error) {
	if !fs.ValidPath(name) {
		return nil, fs.ErrInvalid
	}
	return f.resolve(name, follow)
}

// Resolve looks up p as the kernel would inside the image: p is
// slash-separated, from the image's root whether or not it starts with a
// slash; "." and empty components are skipped, ".." is the directory
// entry of that name (so it steps out of the directory a symlink led to,
// and stays at the root), and symlinks are followed, a final one only
// with follow. Unlike the fs.FS methods it takes ".." components.
func (f *FS) Resolve(p string, follow bool) (*Inode, error) {
	return f.resolve(strings.TrimLeft(p, "/"), follow)
}

// OpenInode returns a reader of a regular file's content.
func (f *FS) OpenInode(in *Inode) (interface {
	io.Reader
	io.ReaderAt
	io.Seeker
}, error) {
	if !in.Mode.IsRegular() {
		return nil, fmt.Errorf("inode %d is not a regular file", in.Ino)
	}
	return f.newFileReader(in)
}

// ReadDirInode returns the entries of directory in as ReadDir does.
func (f *FS) ReadDirInode(in *Inode) ([]fs.DirEntry, error) { return f.readDirInfos(in) }

func (f *FS) resolve(name string, follow bool) (*Inode, error) {
	cur, err := f.Inode(ext4format.RootIno)
	if err != nil {
		return nil, err
	}
	todo := strings.Split(name, "/") // components left, in reverse order
	slices.Reverse(todo)
	hops := 0
	for len(todo) > 0 {
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if c == "" || c == "." {
			continue
		}
		if !cur.Mode.IsDir() {
			return nil, fmt.Errorf("%w (not a directory)", fs.ErrNotExist)
		}
		ino, err := f.lookupName(cur, c)
		if err != nil {
			return nil, err
		}
		next, err := f.Inode(ino)
		if err != nil {
			return nil, err
		}
		if next.Mode&fs.ModeSymlink != 0 && (len(todo) > 0 || follow) {
			if hops++; hops > MaxSymlinkHops {
				return nil, errLoop
			}
			t := strings.Split(next.Linkname, "/")
			slices.Reverse(t)
			todo = append(todo, t...)
			if strings.HasPrefix(next.Linkname, "/") {
				if cur, err = f.Inode(ext4format.RootIno); err != nil {
					return nil, err
				}
			}
			continue
		}
		cur = next
	}
	return cur, nil
}

// dirCacheSize is how many directories' name tables FS keeps: enough for
// a walk that opens every file of a directory (fs.WalkDir, fstest) to
// read each directory once instead of once per file.
const dirCacheSize = 8

type cachedDir struct {
	ino   uint32
	names map[string]uint32
}

// lookupName returns the inode number of name in directory dir.
func (f *FS) lookupName(dir *Inode, name string) (uint32, error) {
	f.mu.Lock()
	for i, c := range f.dirCache {
		if c.ino == dir.Ino {
			// Move to the front: least recently used goes first.
			copy(f.dirCache[1:i+1], f.dirCache[:i])
			f.dirCache[0] = c
			f.mu.Unlock()
			return lookupIn(c.names, name)
		}
	}
	f.mu.Unlock()
	ents, err := f.readDir(dir)
	if err != nil {
		return 0, err
	}
	names := make(map[string]uint32, len(ents))
	for _, d := range ents {
		if _, dup := names[d.name]; !dup {
			names[d.name] = d.ino
		}
	}
	f.mu.Lock()
	f.dirCache = append([]cachedDir{{dir.Ino, names}}, f.dirCache[:min(len(f.dirCache), dirCacheSize-1)]...)
	f.mu.Unlock()
	return lookupIn(names, name)
}

func lookupIn(names map[string]uint32, name string) (uint32, error) {
	ino, ok := names[name]
	if !ok {
		return 0, fs.ErrNotExist
	}
	return ino, nil
}

// fileInfo is an fs.FileInfo and fs.DirEntry for an inode.
type fileInfo struct {
	name string
	in   *Inode
}

func (fi *fileInfo) Name() string               { return fi.name }
func (fi *fileInfo) Size() int64                { return fi.in.Size }
func (fi *fileInfo) Mode() fs.FileMode          { return fi.in.Mode }
func (fi *fileInfo) ModTime() time.Time         { return fi.in.ModTime }
func (fi *fileInfo) IsDir() bool                { return fi.in.Mode.IsDir() }
func (fi *fileInfo) Sys() any                   { return fi.in }
func (fi *fileInfo) Type() fs.FileMode          { return fi.in.Mode.Type() }
func (fi *fileInfo) Info() (fs.FileInfo, error) { return fi, nil }
func (fi *fileInfo) String() string             { return fs.FormatFileInfo(fi) }

func baseName(name string) string {
	if name == "." {
		return "."
	}
	return path.Base(name)
}

// Stat returns the FileInfo of name, following symlinks; its Sys() is
// the *Inode.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	in, err := f.lookup(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return &fileInfo{baseName(name), in}, nil
}

// Lstat is Stat without following a final symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	in, err := f.lookup(name, false)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return &fileInfo{baseName(name), in}, nil
}

// ReadLink returns the target of the symlink name.
func (f *FS) ReadLink(name string) (string, error) {
	in, err := f.lookup(name, false)
	if err == nil && in.Mode&fs.ModeSymlink == 0 {
		err = errors.New("not a symbolic link")
	}
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return in.Linkname, nil
}

// ReadDir returns the entries of directory name, sorted by name, without
// "." and "..". Each entry's Info is already read (Type and Info cost
// nothing more).
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	in, err := f.lookup(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	ents, err := f.readDirInfos(in)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

func (f *FS) readDirInfos(in *Inode) ([]fs.DirEntry, error) {
	raw, err := f.readDir(in)
	if err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for _, d := range raw {
		if d.name == "." || d.name == ".." {
			continue
		}
		child, err := f.Inode(d.ino)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", d.name, err)
		}
		if t := ext4format.FileTypeMode(d.typ); f.sb.FeatureIncompat&ext4format.IncompatFiletype != 0 && t != child.Mode.Type() {
			return nil, corrupt("directory inode %d: entry %q has type %v, its inode %d is %v", in.Ino, d.name, t, d.ino, child.Mode.Type())
		}
		out = append(out, &fileInfo{d.name, child})
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Open opens name, following symlinks: a regular file's fs.File is also an
// io.ReaderAt and io.Seeker; a directory's is an fs.ReadDirFile.
func (f *FS) Open(name string) (fs.File, error) {
	in, err := f.lookup(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fi := &fileInfo{baseName(name), in}
	switch {
	case in.Mode.IsRegular():
		r, err := f.newFileReader(in)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &file{fileReader: r, fi: fi, name: name}, nil
	case in.Mode.IsDir():
		return &dir{f: f, fi: fi, name: name}, nil
	}
	return &special{fi: fi, name: name}, nil
}

type file struct {
	*fileReader
	fi   *fileInfo
	name string
}

func (x *file) Stat() (fs.FileInfo, error) { return x.fi, nil }
func (x *file) Close() error               { return nil }

func (x *file) Read(p []byte) (int, error) {
	n, err := x.fileReader.Read(p)
	if err != nil && err != io.EOF {
		err = &fs.PathError{Op: "read", Path: x.name, Err: err}
	}
	return n, err
}

type dir struct {
	f    *FS
	fi   *fileInfo
	name string
	ents []fs.DirEntry
	read bool
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

// ReadDir implements fs.ReadDirFile.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.f.readDirInfos(d.fi.in)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: err}
		}
		d.ents, d.read = ents, true
	}
	if n <= 0 {
		out := d.ents
		d.ents = nil
		return out, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	out := d.ents[:n]
	d.ents = d.ents[n:]
	return out, nil
}

// special is an open device, FIFO or socket: it has metadata, no content.
type special struct {
	fi   *fileInfo
	name string
}

func (s *special) Stat() (fs.FileInfo, error) { return s.fi, nil }
func (s *special) Close() error               { return nil }
func (s *special) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: s.name, Err: fmt.Errorf("is a %v, not a regular file", s.fi.Mode().Type())}
}
