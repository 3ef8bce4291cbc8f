package ext4fs_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
)

// buildImage writes tr to a new image file.
func buildImage(t testing.TB, tr *ext4tree.Tree, opts ext4img.Options) string {
	t.Helper()
	w := ext4img.NewWriter(opts)
	if err := tr.AddTo(w); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	return img
}

// openImage opens img with ext4fs.
func openImage(t testing.TB, img string) *ext4fs.FS {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := ext4fs.Open(f, st.Size())
	if err != nil {
		t.Fatalf("ext4fs.Open(%s): %v", img, err)
	}
	return fsys
}

// readManifest walks fsys as ext4check.ReadImage walks an image with
// debugfs: every path, not following symlinks, contents hashed.
func readManifest(fsys *ext4fs.FS) (ext4check.Manifest, error) {
	m := ext4check.Manifest{}
	byIno := map[uint32][]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		in := fi.Sys().(*ext4fs.Inode)
		key := "/" + p
		if p == "." {
			key = "/"
		}
		n := &ext4check.Node{UID: in.UID, GID: in.GID, Mtime: in.ModTime.Unix(), MtimeNsec: int64(in.ModTime.Nanosecond()),
			Perm: uint32(in.Mode.Perm()), Target: in.Linkname, Major: in.Devmajor, Minor: in.Devminor}
		for bit, v := range map[fs.FileMode]uint32{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
			if in.Mode&bit != 0 {
				n.Perm |= v
			}
		}
		switch in.Mode.Type() {
		case 0:
			n.Type, n.Size = 'f', in.Size
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			n.SHA256 = hex.EncodeToString(h.Sum(nil))
		case fs.ModeDir:
			n.Type = 'd'
		case fs.ModeSymlink:
			n.Type = 'l'
		case fs.ModeDevice | fs.ModeCharDevice:
			n.Type = 'c'
		case fs.ModeDevice:
			n.Type = 'b'
		case fs.ModeNamedPipe:
			n.Type = 'p'
		case fs.ModeSocket:
			n.Type = 's'
		}
		if len(in.Xattrs) > 0 {
			n.Xattrs = map[string]string{}
			for k, v := range in.Xattrs {
				n.Xattrs[k] = string(v)
			}
		}
		if n.Type != 'd' {
			byIno[in.Ino] = append(byIno[in.Ino], key)
			n.Nlink = in.Nlink
		}
		m[key] = n
		return nil
	})
	for _, paths := range byIno {
		sort.Strings(paths)
		if len(paths) > 1 {
			for _, p := range paths {
				m[p].LinkGroup = paths[0]
			}
		}
	}
	return m, err
}

// compare fails the test with the differences, at most 30.
func compare(t *testing.T, what string, want, got ext4check.Manifest) {
	t.Helper()
	if diffs := ext4check.Compare(want, got, ext4check.Options{}); len(diffs) > 0 {
		if len(diffs) > 30 {
			diffs = append(diffs[:30], fmt.Sprintf("... and %d more", len(diffs)-30))
		}
		t.Errorf("%s:\n%s", what, strings.Join(diffs, "\n"))
	}
}
