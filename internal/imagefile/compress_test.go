package imagefile

import "testing"

func TestCompressionOf(t *testing.T) {
	for name, want := range map[string]compression{
		"a.ext4": noCompression, "a.ext4.zst": zstdCompression, "A.EXT4.ZST": zstdCompression,
		"a.xz": xzCompression, "a.Xz": xzCompression, "zst": noCompression,
	} {
		if got := compressionOf(name); got != want {
			t.Errorf("compressionOf(%q) = %v, want %v", name, got, want)
		}
	}
}
