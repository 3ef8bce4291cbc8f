package ext4fs_test

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
)

// TestFSContract runs testing/fstest's checks of the io/fs interfaces
// (Open, Stat, ReadDir, ReadFile, Glob, Sub, ReadLink, Lstat agree with
// each other) on an image of regular files, directories and symlinks,
// with an htree directory and metadata_csum.
func TestFSContract(t *testing.T) {
	tr := ext4tree.EveryKind(ext4tree.Options{BigDir: 200, BigDirContent: true, HugeSize: 100 << 10, BlockSize: 1024})
	var keep []ext4img.Entry
	for _, e := range tr.Entries {
		// fstest reads every non-directory; devices, FIFOs and sockets
		// have no content, and dangling symlinks cannot be opened.
		switch {
		case e.Mode.Type() == fs.ModeSymlink && e.Path != "links/fast" && e.Path != "xattrs/symlink":
			continue
		case e.Mode.Type()&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			continue
		}
		keep = append(keep, e)
	}
	tr.Entries, tr.Links = keep, tr.Links[:2]
	img := buildImage(t, tr, ext4img.Options{BlockSize: 1024, MetadataCsum: true, NoJournal: true, Time: ext4tree.ModTime})
	var want []string
	for _, e := range tr.Entries {
		if e.Path != "" && !strings.Contains(e.Path, "/") {
			want = append(want, e.Path)
		}
	}
	if err := fstest.TestFS(openImage(t, img), want...); err != nil {
		t.Fatal(err)
	}
}
