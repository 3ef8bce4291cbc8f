//go:build linux

package ext4patch

import (
	"bytes"
	"sync"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
	"github.com/rootfs-synth/rootfs-synth/internal/memfile"
)

var (
	fuzzBaseOnce sync.Once
	fuzzBase     [][]byte
)

// fuzzBaseImages are the images FuzzOpenPut mutates: smallTree with a
// journal as ext4img writes it at 1 and 4 KiB blocks, with and without
// metadata_csum, with little headroom so that a run's copy stays small.
func fuzzBaseImages(t testing.TB) [][]byte {
	fuzzBaseOnce.Do(func() {
		for _, bs := range []int{1024, 4096} {
			for _, csum := range []bool{false, true} {
				w := ext4img.NewWriter(ext4img.Options{BlockSize: bs, MetadataCsum: csum,
					HeadroomBlocks: (256 << 10) / int64(bs), HeadroomInodes: 64, Time: ext4tree.ModTime})
				if err := smallTree(300).AddTo(w); err != nil {
					t.Fatal(err)
				}
				var m memfile.File
				if err := w.Write(&m); err != nil {
					t.Fatal(err)
				}
				fuzzBase = append(fuzzBase, m.Bytes())
			}
		}
	})
	return fuzzBase
}

// fuzzPatch applies records of [3-byte offset, length, bytes...] to img.
func fuzzPatch(img, p []byte) {
	for len(p) >= 4 {
		off := (int(p[0])<<16 | int(p[1])<<8 | int(p[2])) % len(img)
		n := min(int(p[3]), len(p)-4)
		copy(img[off:], p[4:4+n])
		p = p[4+n:]
	}
}

// FuzzOpenPut patches bytes of a valid image (base picks one of
// fuzzBaseImages; its bit 7 asks for Replay), then opens it, puts,
// removes, grows and commits in memory: each may fail, with one line,
// but never panic, hang or allocate without bound (runHostile). The
// seed corpus (testdata/fuzz/FuzzOpenPut) keeps inputs that once broke
// it.
func FuzzOpenPut(f *testing.F) {
	for base := range uint8(4) {
		f.Add([]byte{}, base)
		f.Add([]byte{}, base|0x80)
	}
	f.Add([]byte{0, 4, 0x58, 2, 0, 0x80}, uint8(1))    // s_inode_size 0x8000
	f.Add([]byte{0, 4, 0x20, 4, 1, 0, 0, 0}, uint8(0)) // s_blocks_per_group 1
	f.Fuzz(func(t *testing.T, p []byte, base uint8) {
		bases := fuzzBaseImages(t)
		img := bytes.Clone(bases[int(base&0x7f)%len(bases)])
		fuzzPatch(img, p)
		runHostile(t, func() error {
			cf := &crashFile{b: img, budget: -1}
			im, err := open(cf, "fuzz.img", int64(len(img)), Options{Time: patchTime, Replay: base&0x80 != 0})
			if err != nil {
				return err
			}
			return patchSteps(im)
		})
	})
}
