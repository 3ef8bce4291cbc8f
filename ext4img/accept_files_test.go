//go:build linux

package ext4img_test

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
)

// contentFS serves Options.Files from Entry.Content funcs by name and
// counts the opens of each inode (keyed by its entry's first path).
type contentFS struct {
	mu     sync.Mutex
	byName map[string]*ext4img.Entry
	inode  map[string]string // name -> the Add path of its inode
	opens  map[string]int
}

type contentFile struct {
	io.ReadCloser
	size int64
}

func (f contentFile) Stat() (fs.FileInfo, error) { return sizeInfo(f.size), nil }

type sizeInfo int64

func (i sizeInfo) Name() string       { return "f" }
func (i sizeInfo) Size() int64        { return int64(i) }
func (i sizeInfo) Mode() fs.FileMode  { return 0o644 }
func (i sizeInfo) ModTime() time.Time { return time.Time{} }
func (i sizeInfo) IsDir() bool        { return false }
func (i sizeInfo) Sys() any           { return nil }

func (c *contentFS) Open(name string) (fs.File, error) {
	c.mu.Lock()
	e := c.byName[name]
	if e != nil {
		c.opens[c.inode[name]]++
	}
	c.mu.Unlock()
	if e == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	rc, err := e.Content()
	if err != nil {
		return nil, err
	}
	return contentFile{rc, e.Size}, nil
}

// TestAcceptRandomTreesFromFiles: the random trees of TestAcceptRandomTrees
// with half their files read through Options.Files, plus files and hard
// links in lost+found, lost+found and the root re-set after their
// children, and empty files: e2fsck-clean, read back identical, every
// inode opened once.
func TestAcceptRandomTreesFromFiles(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 10
	}
	for seed := range uint64(n) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			tr, opts := randomTree(seed)
			mt := time.Unix(1600000000, 0)
			tr.Add(ext4img.Entry{Path: "lost+found/zz", Mode: 0o644, Size: 5000, Content: ext4tree.PatternContent(seed, 5000), ModTime: mt})
			tr.Add(ext4img.Entry{Path: "lost+found/aa", Mode: 0o644, Size: 3, Content: ext4tree.PatternContent(seed+1, 3), ModTime: mt})
			tr.Add(ext4img.Entry{Path: "lost+found/empty", Mode: 0o644, ModTime: mt})
			tr.Add(ext4img.Entry{Path: "lost+found", Mode: fs.ModeDir | 0o700, ModTime: mt})
			tr.Add(ext4img.Entry{Path: "", Mode: fs.ModeDir | 0o711, ModTime: mt})
			tr.Add(ext4img.Entry{Path: "0empty", Mode: 0o600, ModTime: mt})
			tr.Links = append(tr.Links, ext4check.Link{Path: "00link", Target: "lost+found/zz"}, ext4check.Link{Path: "lost+found/link", Target: "lost+found/aa"})
			cfs := &contentFS{byName: map[string]*ext4img.Entry{}, inode: map[string]string{}, opens: map[string]int{}}
			opts.Files = cfs
			w := ext4img.NewWriter(opts)
			viaFiles := map[string]bool{}
			for i := range tr.Entries {
				e := tr.Entries[i]
				if e.Mode.IsRegular() && e.Size > 0 && (i%2 == 0 || path.Dir(e.Path) == "lost+found") {
					cfs.byName[e.Path], cfs.inode[e.Path] = &tr.Entries[i], e.Path
					viaFiles[e.Path] = true
					e.Content = nil
				}
				if err := w.Add(e); err != nil {
					t.Fatalf("Add(%q): %v", e.Path, err)
				}
			}
			for _, l := range tr.Links {
				if err := w.Link(l.Target, l.Path); err != nil {
					t.Fatalf("Link(%q, %q): %v", l.Target, l.Path, err)
				}
				if e := cfs.byName[l.Target]; e != nil {
					cfs.byName[l.Path], cfs.inode[l.Path] = e, cfs.inode[l.Target]
				}
			}
			img := t.TempDir() + "/fs.img"
			if err := w.WriteFile(img, 0o644); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			for p := range viaFiles {
				if cfs.opens[p] != 1 {
					t.Errorf("%q opened %d times, want once", p, cfs.opens[p])
				}
			}
			tr.check(t, img, fmt.Sprintf("seed %d: ", seed))
		})
	}
}
