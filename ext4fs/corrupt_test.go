package ext4fs_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestCorruptImages: each patch of the fuzz seed corpus breaks one
// structure; reading the image must fail with an error that wraps
// ErrCorrupt and names the broken inode or block (negative controls: the
// checks exist and fire where they should).
func TestCorruptImages(t *testing.T) {
	bases := fuzzBaseImages(t)
	if len(bases) < 4 {
		// The mke2fs bases are missing: skip, or fail in CI.
		testenv.Tool(t, "mke2fs")
		testenv.Tool(t, "debugfs")
	}
	tests := []struct {
		name  string
		base  int
		patch []byte
		want  string
	}{
		{"extent root depth 5 (inode checksum)", 2, []byte{0x01, 0x95, 0x2e, 2, 5, 0}, "inode 14: checksum"},
		{"extent root depth 5", 3, []byte{0x01, 0x15, 0x2e, 2, 5, 0}, "inode 14: extent block 2272 has depth 1 below a node of depth 5"},
		{"extent index points at itself", 3, []byte{0x23, 0x80, 0x10, 4, 0xe0, 0x08, 0, 0}, "inode 14: extent block 2272 has depth 1 below a node of depth 1"},
		{"extent outside the image", 3, []byte{0x18, 0xf8, 0x14, 4, 0, 0xff, 0xff, 0xff}, "inode 14: extent block 1598: extent 0 (blocks 4294967040+1) lies outside the 8192-block image"},
		{"extent index checksum", 2, []byte{0x24, 0x04, 0x10, 4, 0x01, 0x09, 0, 0}, "inode 14: extent block 2305"},
		{"extent leaf entry count", 2, []byte{0x19, 0x78, 0x02, 2, 0xff, 0xff}, "inode 14: extent block 1630"},
		{"dir extent block room zero", 2, []byte{0x1e, 0x94, 0x04, 2, 0, 0}, "inode 12: extent block 1957: extent node has 11 entries, room for 0"},
		{"dir record length zero (block checksum)", 2, []byte{0x19, 0x48, 0x04, 2, 0, 0}, "directory inode 12: block 0: checksum"},
		{"htree root .. record length", 0, []byte{0x06, 0xa4, 0x10, 2, 0x0c, 0}, "directory inode 59: block 0"},
		{"xattr value offset", 0, []byte{0x18, 0xd4, 0x22, 2, 0xff, 0xff}, "xattr block 1589"},
		{"root inode checksum", 1, []byte{0, 0x15, 0x00, 2, 0, 0}, "inode 2: checksum"},
		{"superblock checksum", 1, []byte{0, 4, 0x18, 1, 7}, "superblock: checksum"},
		{"in-inode xattr name length", 0, []byte{0, 0x15, 0xa4, 1, 0xff}, "inode 2: in-inode xattrs"},
	}
	for _, tt := range tests {
		img := bytes.Clone(bases[tt.base])
		patch(img, tt.patch)
		fsys, err := ext4fs.Open(bytes.NewReader(img), int64(len(img)))
		if err == nil {
			err = walkAll(fsys)
		}
		t.Logf("%s: %v", tt.name, err)
		if err == nil || !errors.Is(err, ext4fs.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: reading = %v, want an ErrCorrupt naming %q", tt.name, err, tt.want)
		}
	}
}
