//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestMkfsCompresses: `mkfs -o x.ext4.zst` (or .xz) writes the image
// compressed, as the build does, not a raw image under a compressed
// name: it decompresses to the bytes of `mkfs -o x.ext4` of the same tree.
func TestMkfsCompresses(t *testing.T) {
	src := hostTreeDir(t)
	out := testenv.WorldDir(t)
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}
	plain := filepath.Join(out, "img.ext4")
	if b, err := mkfs(t, env, src, "-o", plain); err != nil {
		t.Fatalf("mkfs -o %s: %v\n%s", plain, err, b)
	}
	raw, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	decoders := map[string]func(io.Reader) (io.Reader, error){
		".zst": func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) },
		".xz":  func(r io.Reader) (io.Reader, error) { return xz.NewReader(r) },
	}
	for ext, decode := range decoders {
		target := plain + ext
		if b, err := mkfs(t, env, src, "-o", target); err != nil {
			t.Fatalf("mkfs -o %s: %v\n%s", target, err, b)
		}
		f, err := os.Open(target)
		if err != nil {
			t.Fatal(err)
		}
		r, err := decode(f)
		if err != nil {
			f.Close()
			t.Fatalf("mkfs -o %s: not %s-compressed: %v", target, ext, err)
		}
		got, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			t.Fatalf("mkfs -o %s: decompressing: %v", target, err)
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("mkfs -o %s decompresses to %d bytes unlike the %d bytes of mkfs -o %s", target, len(got), len(raw), plain)
		}
	}
}
