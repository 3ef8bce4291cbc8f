package ext4fs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
	"github.com/rootfs-synth/rootfs-synth/internal/memfile"
)

var (
	fuzzBaseOnce sync.Once
	fuzzBase     [][]byte
)

// fuzzBaseImages are the images FuzzRead mutates: two small 1 KiB-block
// ext4img images (without and with metadata_csum) of a tree with every
// entry kind, an htree directory, in-inode and block xattrs, and, when
// e2fsprogs is installed, mke2fsFragmented's images with a depth-2 extent
// tree (with metadata_csum and 64bit, then without: there only the
// structural checks stand between a patch and the reader).
func fuzzBaseImages(t testing.TB) [][]byte {
	fuzzBaseOnce.Do(func() {
		for _, csum := range []bool{false, true} {
			tr := ext4tree.EveryKind(ext4tree.Options{BigDir: 120, BigDirContent: true, HugeSize: 300 << 10, BlockSize: 1024})
			// Not the 1 and 3 MiB files of ext4img's acceptance tests: each
			// run copies the whole image, and patches would mostly hit data.
			tr.Entries = slices.DeleteFunc(tr.Entries, func(e ext4img.Entry) bool {
				return e.Path == "size-1048576" || e.Path == "size-3145733"
			})
			w := ext4img.NewWriter(ext4img.Options{BlockSize: 1024, NoJournal: true, MetadataCsum: csum,
				HeadroomBlocks: -1, HeadroomInodes: -1, Time: time.Unix(1e9, 0)})
			if err := tr.AddTo(w); err != nil {
				t.Fatal(err)
			}
			var m memfile.File
			if err := w.Write(&m); err != nil {
				t.Fatal(err)
			}
			fuzzBase = append(fuzzBase, m.Bytes())
		}
		_, e1 := exec.LookPath("mke2fs")
		_, e2 := exec.LookPath("debugfs")
		if e1 != nil || e2 != nil {
			return
		}
		for _, csum := range []bool{true, false} {
			dir, err := os.MkdirTemp("", "ext4fs-fuzz")
			if err != nil {
				t.Fatal(err)
			}
			img, err := os.ReadFile(mke2fsFragmented(t, dir, csum))
			os.RemoveAll(dir)
			if err != nil {
				t.Fatal(err)
			}
			fuzzBase = append(fuzzBase, img)
		}
	})
	return fuzzBase
}

// patch applies records of [3-byte offset, length, bytes...] to img.
func patch(img, p []byte) {
	for len(p) >= 4 {
		off := (int(p[0])<<16 | int(p[1])<<8 | int(p[2])) % len(img)
		n := min(int(p[3]), len(p)-4)
		copy(img[off:], p[4:4+n])
		p = p[4+n:]
	}
}

// walkAll reads everything reachable in fsys: every directory (each
// inode once), every inode, up to 1 MiB of every file, every symlink
// resolved. It returns the first error; a panic or hang is the failure.
func walkAll(fsys *ext4fs.FS) error {
	root, err := fsys.Resolve("/", false)
	if err != nil {
		return err
	}
	seen := map[uint32]bool{}
	var firstErr error
	var walk func(dir string, in *ext4fs.Inode)
	walk = func(dir string, in *ext4fs.Inode) {
		if seen[in.Ino] {
			return
		}
		seen[in.Ino] = true
		ents, err := fsys.ReadDirInode(in)
		if err != nil {
			firstErr = errors.Join(firstErr, err)
			return
		}
		for _, e := range ents {
			fi, _ := e.Info()
			child := fi.Sys().(*ext4fs.Inode)
			p := path.Join(dir, e.Name())
			switch child.Mode.Type() {
			case fs.ModeDir:
				walk(p, child)
			case fs.ModeSymlink:
				// Dangling targets are fine; corruption is not.
				if _, err := fsys.Resolve(p, true); err != nil && !errors.Is(err, fs.ErrNotExist) {
					firstErr = errors.Join(firstErr, err)
				}
			case 0:
				r, err := fsys.OpenInode(child)
				if err == nil {
					_, err = io.CopyN(io.Discard, r, 1<<20)
				}
				if err != nil && err != io.EOF {
					firstErr = errors.Join(firstErr, err)
				}
			}
		}
	}
	walk("/", root)
	return firstErr
}

// FuzzRead patches bytes of a valid image (base picks one of
// fuzzBaseImages) and reads all of it: the reader may fail, but never
// panic, loop or allocate without bound. The seed corpus
// (testdata/fuzz/FuzzRead) aims patches at the superblock, inodes, an
// htree root, a linear directory block, an xattr block and every level
// of the depth-2 extent tree (offsets found with debugfs imap, ex and
// blocks on the base images), and keeps inputs that once crashed it.
func FuzzRead(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, p []byte, base uint8) {
		bases := fuzzBaseImages(t)
		img := bytes.Clone(bases[int(base)%len(bases)])
		patch(img, p)
		fsys, err := ext4fs.Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			return
		}
		walkAll(fsys)
	})
}

// TestWalkBaseImages: the unpatched fuzz images read without error (so
// the fuzz target exercises a reader that works, not one that gives up).
func TestWalkBaseImages(t *testing.T) {
	for i, img := range fuzzBaseImages(t) {
		fsys, err := ext4fs.Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatalf("image %d: Open: %v", i, err)
		}
		if err := walkAll(fsys); err != nil {
			t.Errorf("image %d: %v", i, err)
		}
	}
}
