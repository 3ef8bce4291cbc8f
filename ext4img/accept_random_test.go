//go:build linux

package ext4img_test

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
)

// randomTrees is how many seeded random trees TestAcceptRandomTrees
// writes and reads back.
const randomTrees = 120

// TestAcceptRandomTrees writes random trees with random options; each
// image must be e2fsck-clean and read back identical. A failure names its
// seed; rerun it alone with -run 'TestAcceptRandomTrees/seed=N$'.
func TestAcceptRandomTrees(t *testing.T) {
	n := randomTrees
	if testing.Short() {
		n = 10
	}
	for seed := range uint64(n) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			tr, opts := randomTree(seed)
			ctx := fmt.Sprintf("seed %d (%d entries, %d links, block size %d, no journal %v, metadata_csum %v): ",
				seed, len(tr.Entries), len(tr.Links), opts.BlockSize, opts.NoJournal, opts.MetadataCsum)
			img, _ := tr.build(t, opts, ctx)
			tr.check(t, img, ctx)
		})
	}
}

// randomTree returns a tree and options generated from seed alone.
func randomTree(seed uint64) (*tree, ext4img.Options) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	opts := ext4img.Options{
		BlockSize: []int{1024, 4096}[r.IntN(2)],
		NoJournal: r.IntN(2) == 0,
		Time:      time.Unix(r.Int64N(1<<31), 0),
	}
	switch r.IntN(3) {
	case 0:
		opts.HeadroomBlocks, opts.HeadroomInodes = -1, -1
	case 1:
		opts.HeadroomBlocks, opts.HeadroomInodes = r.Int64N(3000), r.Int64N(3000)
	}
	if r.IntN(4) == 0 {
		opts.UUID[r.IntN(16)] = byte(1 + r.IntN(255))
	}
	opts.MetadataCsum = r.IntN(3) == 0

	tr := &tree{}
	attrs := func(e *ext4img.Entry) {
		e.Mode |= randomPerm(r)
		e.UID, e.GID = randomID(r), randomID(r)
		e.ModTime = randomTime(r)
		if r.IntN(3) == 0 {
			e.Xattrs = randomXattrs(r, opts.BlockSize)
		}
	}
	root := ext4img.Entry{Path: "", Mode: fs.ModeDir}
	attrs(&root)
	tr.Add(root)
	dirs := []string{""}
	var linkable []string
	used := map[string]bool{}
	n := 1 + r.IntN(80)
	if r.IntN(10) == 0 {
		n += 2000 // a multi-block (htree) directory now and then
	}
	for range n {
		parent := dirs[r.IntN(len(dirs))]
		name := randomName(r)
		p := path.Join(parent, name)
		if used[p] {
			continue
		}
		used[p] = true
		e := ext4img.Entry{Path: p}
		switch k := r.IntN(100); {
		case k < 40:
			e.Size = randomSize(r)
			e.Content = ext4tree.PatternContent(r.Uint64(), e.Size)
			linkable = append(linkable, p)
		case k < 60:
			e.Mode = fs.ModeDir
			dirs = append(dirs, p)
		case k < 75:
			e.Mode = fs.ModeSymlink
			e.Linkname = randomTarget(r, opts.BlockSize-1)
		case k < 85 && len(linkable) > 0:
			tr.Links = append(tr.Links, ext4check.Link{Path: p, Target: linkable[r.IntN(len(linkable))]})
			continue
		case k < 91:
			e.Mode = fs.ModeDevice
			if r.IntN(2) == 0 {
				e.Mode |= fs.ModeCharDevice
			}
			e.Devmajor, e.Devminor = uint32(r.IntN(1<<12)), uint32(r.IntN(1<<20))
			if r.IntN(2) == 0 {
				e.Devmajor, e.Devminor = uint32(r.IntN(256)), uint32(r.IntN(256))
			}
			linkable = append(linkable, p)
		case k < 96:
			e.Mode = fs.ModeNamedPipe
			linkable = append(linkable, p)
		default:
			e.Mode = fs.ModeSocket
		}
		attrs(&e)
		tr.Add(e)
	}
	return tr, opts
}

func randomPerm(r *rand.Rand) fs.FileMode {
	m := fs.FileMode(r.IntN(0o1000))
	if r.IntN(5) == 0 {
		m |= fs.ModeSetuid
	}
	if r.IntN(5) == 0 {
		m |= fs.ModeSetgid
	}
	if r.IntN(5) == 0 {
		m |= fs.ModeSticky
	}
	return m
}

func randomID(r *rand.Rand) uint32 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return uint32(r.IntN(70000))
	case 2:
		return 65534
	}
	return r.Uint32()
}

// randomTime covers what ext4's extra epoch bits hold, with nanoseconds,
// from 1901 up to 2310-04-04: e2fsck (pass 1, "likely pre-1970") rewrites
// times from 2310 to 2378 as mis-encoded pre-1970 dates.
func randomTime(r *rand.Rand) time.Time {
	const y2310 = 3<<32 - 1<<31
	return time.Unix(-(1<<31)+r.Int64N(y2310+1<<31), r.Int64N(1e9))
}

func randomSize(r *rand.Rand) int64 {
	switch r.IntN(10) {
	case 0, 1:
		return 0
	case 2, 3, 4:
		return 1 + r.Int64N(100)
	case 9:
		return r.Int64N(3 << 20)
	}
	return r.Int64N(40000)
}

// nameBytes are the bytes names are made of: anything but NUL and '/'
// (newline is left out: debugfs prints one name per line).
func nameByte(r *rand.Rand) byte {
	for {
		b := byte(1 + r.IntN(255))
		if b != '/' && b != '\n' {
			return b
		}
	}
}

func randomName(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(10) {
	case 0: // arbitrary bytes, up to the limit
		for range 1 + r.IntN(255) {
			b.WriteByte(nameByte(r))
		}
	case 1: // UTF-8
		for b.Len() < 240 && r.IntN(20) != 0 {
			b.WriteRune([]rune("äöüßé名前ファイル☃🙂")[r.IntN(12)])
		}
		b.WriteString("u")
	default:
		const alnum = "abcdefghijklmnopqrstuvwxyz0123456789._-"
		for range 1 + r.IntN(20) {
			b.WriteByte(alnum[r.IntN(len(alnum))])
		}
	}
	if s := b.String(); s != "." && s != ".." {
		return s
	}
	return "dot"
}

func randomTarget(r *rand.Rand, max int) string {
	n := 1 + r.IntN(40)
	if r.IntN(3) == 0 {
		n = 1 + r.IntN(max)
	}
	var b strings.Builder
	for range n {
		b.WriteByte(nameByte(r))
	}
	return b.String()
}

func randomXattrs(r *rand.Rand, bs int) map[string][]byte {
	x := map[string][]byte{}
	budget := bs - 200 // header, entry descriptors and padding
	for range 1 + r.IntN(5) {
		prefix := []string{"user.", "trusted.", "security."}[r.IntN(3)]
		name := prefix + fmt.Sprintf("k%d", r.IntN(1000))
		size := r.IntN(40)
		if r.IntN(4) == 0 {
			size = r.IntN(budget / 2)
		}
		if size+len(name)+20 > budget {
			break
		}
		budget -= size + len(name) + 20
		v := make([]byte, size)
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		x[name] = v
	}
	return x
}
