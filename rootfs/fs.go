package rootfs

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"time"
)

// FS returns a read-only io/fs view of the tree as it is now: Open, Stat,
// ReadDir and ReadLink (Go 1.25's fs.ReadLinkFS) work on unrooted paths
// ("etc/passwd", "." for the root), symlinks are not followed, and a
// file's FileInfo.Sys() is its *Node. Regular files are opened through
// their Content; symlinks, devices, FIFOs and sockets read as empty. The view sees later changes to the tree.
func (t *Tree) FS() fs.FS { return treeFS{t} }

type treeFS struct{ t *Tree }

var (
	_ fs.StatFS     = treeFS{}
	_ fs.ReadDirFS  = treeFS{}
	_ fs.ReadLinkFS = treeFS{}
)

func (f treeFS) lookup(op, name string) (string, *Node, error) {
	if !fs.ValidPath(name) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p := name
	if p == "." {
		p = ""
	}
	n, ok := f.t.nodes[p]
	if !ok {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return p, n, nil
}

func (f treeFS) Open(name string) (fs.File, error) {
	p, n, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	info := fileInfo{name: baseName(p), n: n}
	switch {
	case n.IsDir():
		return &dirFile{info: info, fs: f, path: p}, nil
	case n.Mode.IsRegular():
		var rc io.ReadCloser = io.NopCloser(eofReader{})
		if n.Content != nil {
			if rc, err = n.Content(); err != nil {
				return nil, &fs.PathError{Op: "open", Path: name, Err: err}
			}
		}
		return &regularFile{info: info, rc: rc}, nil
	default:
		return &otherFile{info: info}, nil
	}
}

func (f treeFS) Stat(name string) (fs.FileInfo, error) {
	p, n, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: baseName(p), n: n}, nil
}

func (f treeFS) Lstat(name string) (fs.FileInfo, error) { return f.Stat(name) }

func (f treeFS) ReadLink(name string) (string, error) {
	_, n, err := f.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if n.Mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.Linkname, nil
}

func (f treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, n, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	var out []fs.DirEntry
	for _, c := range f.t.Children(p) {
		out = append(out, fs.FileInfoToDirEntry(fileInfo{name: c, n: f.t.nodes[path.Join(p, c)]}))
	}
	return out, nil
}

func baseName(p string) string {
	if p == "" {
		return "."
	}
	return path.Base(p)
}

type fileInfo struct {
	name string
	n    *Node
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.n.Size }
func (i fileInfo) Mode() fs.FileMode  { return i.n.Mode }
func (i fileInfo) ModTime() time.Time { return i.n.ModTime }
func (i fileInfo) IsDir() bool        { return i.n.IsDir() }
func (i fileInfo) Sys() any           { return i.n }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type regularFile struct {
	info fileInfo
	rc   io.ReadCloser
}

func (f *regularFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *regularFile) Read(b []byte) (int, error) { return f.rc.Read(b) }
func (f *regularFile) Close() error               { return f.rc.Close() }

type otherFile struct{ info fileInfo }

func (f *otherFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *otherFile) Read([]byte) (int, error)   { return 0, io.EOF }
func (f *otherFile) Close() error               { return nil }

type dirFile struct {
	info    fileInfo
	fs      treeFS
	path    string
	entries []fs.DirEntry
	read    bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		name := d.path
		if name == "" {
			name = "."
		}
		var err error
		if d.entries, err = d.fs.ReadDir(name); err != nil {
			return nil, err
		}
		d.read = true
	}
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}
