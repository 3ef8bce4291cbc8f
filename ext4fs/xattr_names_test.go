package ext4fs

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// TestXattrErrorQuotesName: an xattr name read from an image reaches an
// error quoted, never as raw control bytes or invalid UTF-8.
func TestXattrErrorQuotesName(t *testing.T) {
	for _, name := range []string{"x\x1b[31mred\a", "x\xff\xfe", "plain"} {
		area := make([]byte, ext4format.XattrEntryHeaderSize+len(name)+8)
		area[0], area[1] = byte(len(name)), 1       // index 1: "user."
		binary.LittleEndian.PutUint32(area[4:], 12) // e_value_inum: refused
		copy(area[ext4format.XattrEntryHeaderSize:], name)
		err := parseXattrs(area, area, map[string][]byte{})
		if err == nil {
			t.Fatalf("parseXattrs of an ea_inode entry named %q = nil", name)
		}
		msg := err.Error()
		if !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("parseXattrs error %q holds the name raw", msg)
		}
		if !strings.Contains(msg, `"user.`) {
			t.Errorf("parseXattrs error %q does not quote the name", msg)
		}
	}
}
