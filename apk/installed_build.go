package apk

import (
	"fmt"
	"slices"
	"strings"
)

// maxUnsortedDirs is how many directories apk lets arrive out of order
// before it sorts a package's directory list (apk_db_diri_bsearch).
const maxUnsortedDirs = 32

// A DirRecorder builds a package's InstalledPackage.Dirs from the entries
// of its data tar, placing directories and files as apk does while it
// installs them (apk_db_install_file, apk_db_diri_get): feed it every
// entry in the tar's order, then take Dirs. Like apk, it keeps directories
// in the order they came but sorts them by name once more than 32 arrived
// out of order, so Dirs must not be changed in between. The zero value is
// an empty recorder.
type DirRecorder struct {
	Dirs []InstalledDir

	index    map[string]int // Dirs index by name
	files    map[string]int // index in its directory's Files, by path
	cur      int            // index+1 of the directory apk has selected, 0 for none
	unsorted int            // directories appended out of bytewise order since the last sort
}

// AddDir records a directory entry: name is its path without the trailing
// slash. A new directory goes to the end of Dirs; one added again keeps its
// place and takes the new ACL. apk's default (0:0 0755, no xattrs) is
// stored as a nil ACL, as ReadInstalled reads it.
func (r *DirRecorder) AddDir(name string, acl ACL) {
	i := r.dir(strings.TrimSuffix(name, "/"))
	r.Dirs[i].ACL = normalACL(acl, DefaultDirMode)
}

// AddFile records a regular file, symlink or hard link at path, with the
// checksum PackageReader.Checksum gave. Its directory must have been added
// first (apk reports "no dirent in archive" otherwise), except the root,
// which is added with the first top-level file. A path added again takes
// the new ACL and checksum. apk's default (0:0 0644, no xattrs) is stored
// as a nil ACL.
func (r *DirRecorder) AddFile(path string, acl ACL, checksum []byte) error {
	dir, name := splitPath(path)
	i, ok := r.lookup(dir)
	if !ok {
		if dir != "" {
			return fmt.Errorf("recording %s: no directory entry for %s came before it", path, dir)
		}
		i = r.dir("")
	}
	r.cur = i + 1
	f := InstalledFile{Name: name, ACL: normalACL(acl, DefaultFileMode), Checksum: checksum}
	key := dir + "/" + name
	if j, ok := r.files[key]; ok {
		r.Dirs[i].Files[j] = f
		return nil
	}
	if r.files == nil {
		r.files = map[string]int{}
	}
	r.files[key] = len(r.Dirs[i].Files)
	r.Dirs[i].Files = append(r.Dirs[i].Files, f)
	return nil
}

// RemoveFile drops the file at path from the package and reports whether
// it had one: what apk does to a file another package took over (replaces
// or same origin). Its directory stays.
func (ip *InstalledPackage) RemoveFile(path string) bool {
	dir, name := splitPath(path)
	for i := range ip.Dirs {
		d := &ip.Dirs[i]
		if d.Name != dir {
			continue
		}
		if j := slices.IndexFunc(d.Files, func(f InstalledFile) bool { return f.Name == name }); j >= 0 {
			d.Files = slices.Delete(d.Files, j, j+1)
			return true
		}
	}
	return false
}

func splitPath(path string) (dir, name string) {
	path = strings.TrimSuffix(path, "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i], path[i+1:]
	}
	return "", path
}

// lookup is apk_db_diri_query: the selected directory, or a search of
// Dirs, which first sorts them when too many arrived out of order.
func (r *DirRecorder) lookup(name string) (int, bool) {
	if r.cur > 0 && r.Dirs[r.cur-1].Name == name {
		return r.cur - 1, true
	}
	if r.unsorted > maxUnsortedDirs {
		cur := ""
		if r.cur > 0 {
			cur = r.Dirs[r.cur-1].Name
		}
		slices.SortFunc(r.Dirs, func(a, b InstalledDir) int { return strings.Compare(a.Name, b.Name) })
		r.index, r.unsorted = nil, 0
		if r.cur > 0 {
			r.cur = r.indexOf(cur) + 1
		}
	}
	i := r.indexOf(name)
	return i, i >= 0
}

// indexOf finds the directory name in Dirs, -1 when absent.
func (r *DirRecorder) indexOf(name string) int {
	if r.index == nil {
		r.index = make(map[string]int, len(r.Dirs))
		for i, d := range r.Dirs {
			r.index[d.Name] = i
		}
	}
	if i, ok := r.index[name]; ok {
		return i
	}
	return -1
}

// dir is apk_db_diri_get: the directory name, appended when new and
// selected. A new one counts as out of order when earlier ones were, or
// when it sorts before the one selected or, if another is selected, before
// the last one.
func (r *DirRecorder) dir(name string) int {
	res := 1
	if r.cur > 0 {
		res = strings.Compare(name, r.Dirs[r.cur-1].Name)
	}
	i, ok := r.lookup(name)
	if !ok {
		if r.unsorted > 0 {
			res = -1
		} else if n := len(r.Dirs); n > 0 && r.cur != n {
			res = strings.Compare(name, r.Dirs[n-1].Name)
		}
		if res < 0 {
			r.unsorted++
		}
		r.Dirs = append(r.Dirs, InstalledDir{Name: name})
		i = len(r.Dirs) - 1
		r.indexOf(name) // builds the index if need be
		r.index[name] = i
	}
	r.cur = i + 1
	return i
}

// normalACL returns nil for apk's default, else a copy of acl.
func normalACL(acl ACL, mode uint32) *ACL {
	if acl.isDefault(mode) {
		return nil
	}
	return &acl
}
