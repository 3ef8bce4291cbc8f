package alpinetest

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path"
	"slices"
	"sort"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// A Scale describes synthetic packages for benchmarks: a realistic mix of
// many 0.5–8 KB files, some 8–128 KB ones, a few multi-megabyte
// "libraries" taking the rest of the bytes, ~10% symlinks and a few hard
// links, spread unevenly over the packages, each package depending on up
// to two earlier ones. Contents are pseudo-random but deterministic and
// compress like binaries (about 2.5:1 under gzip -9). The same Scale always
// gives the same packages.
type Scale struct {
	Packages int    // synthetic packages
	Files    int    // their non-directory entries (regular files, symlinks, hard links)
	Bytes    int64  // their regular files' total size, unpacked
	Seed     uint64 // 0 is 1
}

// Balanced is the size of a "balanced" profile's world (performance.md's
// medium repository): 150 packages, 25,000 files, 250 MB unpacked.
var Balanced = Scale{Packages: 150, Files: 25000, Bytes: 250_000_000, Seed: 1}

// Times returns s with n times the packages, files and bytes.
func (s Scale) Times(n int) Scale {
	s.Packages *= n
	s.Files *= n
	s.Bytes *= int64(n)
	return s
}

// ScaleWorld is the meta package that depends on every synthetic package
// and on BaseWorld: `-p bench-world` asks for the whole scale repository.
const ScaleWorld = "bench-world"

// ScaleName is the name of synthetic package i.
func ScaleName(i int) string { return fmt.Sprintf("bench-%04d", i) }

type entryKind byte

const (
	regular entryKind = iota
	symlinkEntry
	hardlinkEntry
)

type entryPlan struct {
	name   string
	kind   entryKind
	size   int64
	exec   bool
	target string // symlink target (relative) or hard link target (path)
	seed   uint64
}

type pkgPlan struct {
	name    string
	deps    []string
	entries []entryPlan
}

type scalePlan struct {
	pkgs    []pkgPlan
	muslDep string // what every package depends on (muslSO of the arch)
}

// plan lays out every package, entry, size and content seed; contents
// are made only when a package is built.
func (s Scale) plan() (*scalePlan, error) {
	if s.Packages <= 0 || s.Files < s.Packages || s.Bytes < int64(s.Files) {
		return nil, errors.New("scale: need Packages > 0, Files >= Packages and Bytes >= Files")
	}
	seed := s.Seed
	if seed == 0 {
		seed = 1
	}
	r := rand.New(rand.NewPCG(seed, 0x616c70696e65))
	nSym := s.Files / 10
	nHard := max(1, s.Files/500)
	nReg := s.Files - nSym - nHard
	nLarge := max(1, nReg/1000)
	nMedium := nReg * 11 / 100
	nSmall := nReg - nLarge - nMedium
	if nReg < s.Packages {
		return nil, errors.New("scale: too few files for one regular file per package")
	}

	logUniform := func(lo, hi float64) int64 {
		return int64(math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))))
	}
	sizes := make([]int64, 0, nReg)
	var sum int64
	for range nSmall {
		sizes = append(sizes, logUniform(512, 8192))
	}
	for range nMedium {
		sizes = append(sizes, logUniform(8<<10, 128<<10))
	}
	for _, sz := range sizes {
		sum += sz
	}
	if budget := s.Bytes * 9 / 10; sum > budget { // a tiny scale: shrink the small files
		for i := range sizes {
			sizes[i] = max(1, sizes[i]*budget/sum)
		}
		sum = 0
		for _, sz := range sizes {
			sum += sz
		}
	}
	rest := s.Bytes - sum
	weights := make([]float64, nLarge)
	var wsum float64
	for i := range weights {
		weights[i] = 0.5 + r.Float64()
		wsum += weights[i]
	}
	for i, w := range weights {
		sz := int64(w / wsum * float64(rest))
		if i == nLarge-1 {
			sz = rest
		}
		rest -= sz
		sizes = append(sizes, max(1, sz))
	}

	p := &scalePlan{pkgs: make([]pkgPlan, s.Packages)}
	pkgWeight := make([]float64, s.Packages)
	cum := make([]float64, s.Packages)
	var total float64
	for i := range p.pkgs {
		p.pkgs[i].name = ScaleName(i)
		for _, j := range []int{r.IntN(i + 1), r.IntN(i + 1)} {
			if j < i && r.IntN(2) == 0 && !slices.Contains(p.pkgs[i].deps, ScaleName(j)) {
				p.pkgs[i].deps = append(p.pkgs[i].deps, ScaleName(j))
			}
		}
		pkgWeight[i] = math.Exp(r.NormFloat64())
		total += pkgWeight[i]
		cum[i] = total
	}
	pick := func() int {
		return min(sort.SearchFloat64s(cum, r.Float64()*total), s.Packages-1)
	}
	// Every package gets one regular file first, so none is empty.
	r.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
	regs := make([][]int, s.Packages) // entry indexes of regular files
	for n, sz := range sizes {
		i := n
		if n >= s.Packages {
			i = pick()
		}
		pp := &p.pkgs[i]
		k := len(pp.entries)
		e := entryPlan{kind: regular, size: sz, seed: r.Uint64()}
		switch {
		case sz >= 1<<20:
			e.name, e.exec = fmt.Sprintf("usr/lib/lib%s-%d.so.%d.%d", pp.name, k, 1+k%3, k%10), true
		case r.IntN(20) == 0:
			e.name, e.exec = fmt.Sprintf("usr/bin/%s-tool%d", pp.name, k), true
		default:
			top := "usr/share/"
			if r.IntN(2) == 0 {
				top = "usr/lib/"
			}
			e.name = fmt.Sprintf("%s%s/d%d/f%d.dat", top, pp.name, r.IntN(1+k/40), k)
		}
		regs[i] = append(regs[i], k)
		pp.entries = append(pp.entries, e)
	}
	for n := range nSym + nHard {
		i := pick()
		pp := &p.pkgs[i]
		t := pp.entries[regs[i][r.IntN(len(regs[i]))]]
		k := len(pp.entries)
		if n < nSym {
			pp.entries = append(pp.entries, entryPlan{kind: symlinkEntry, target: path.Base(t.name),
				name: fmt.Sprintf("%s/l%d-%s", path.Dir(t.name), k, path.Base(t.name))})
		} else {
			pp.entries = append(pp.entries, entryPlan{kind: hardlinkEntry, target: t.name,
				name: fmt.Sprintf("%s.hl%d", t.name, k)})
		}
	}
	return p, nil
}

// pkg builds synthetic package i's description, contents included.
func (p *scalePlan) pkg(i int) apktest.Pkg {
	pp := p.pkgs[i]
	pkg := apktest.Pkg{
		Name: pp.name, Version: "1.0-r0", Description: "synthetic benchmark package",
		URL: "https://example.invalid/bench", License: "MIT", Origin: pp.name,
		Maintainer: "alpinetest <alpinetest@localhost>", BuildTime: buildTime,
		Depends: append([]string{p.muslDep}, pp.deps...),
	}
	for _, e := range pp.entries {
		switch e.kind {
		case regular:
			mode := fs.FileMode(0o644)
			if e.exec {
				mode = 0o755
			}
			data := make([]byte, e.size)
			fillBinary(data, e.seed)
			pkg.Files = append(pkg.Files, apktest.File{Name: e.name, Mode: mode, Data: data})
		case symlinkEntry:
			pkg.Files = append(pkg.Files, symlink(e.name, e.target))
		case hardlinkEntry:
			pkg.Files = append(pkg.Files, apktest.File{Name: e.name, Hardlink: e.target})
		}
	}
	return pkg
}

// world is ScaleWorld.
func (p *scalePlan) world() apktest.Pkg {
	deps := append([]string{}, BaseWorld...)
	for _, pp := range p.pkgs {
		deps = append(deps, pp.name)
	}
	return apktest.Pkg{
		Name: ScaleWorld, Version: "1.0-r0", Arch: noarch, Description: "every synthetic benchmark package",
		URL: "https://example.invalid/bench", License: "MIT", Origin: ScaleWorld,
		Maintainer: "alpinetest <alpinetest@localhost>", BuildTime: buildTime, Depends: deps,
	}
}

// fillBinary fills b like a program compresses: runs of 16–127 random
// bytes, 68% of them copies of bytes up to 8 KiB back (the repeats LZ77
// finds in code and data), so gzip -9 packs it about 2.5:1 — and quickly:
// a skewed byte distribution compresses the same but makes gzip -9's match
// search crawl (0.4 MB/s against 40 here).
func fillBinary(b []byte, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x62696e))
	for i := 0; i < len(b); {
		n := min(16+r.IntN(112), len(b)-i)
		if i >= 64 && r.IntN(100) < 68 {
			back := 1 + r.IntN(min(i, 8192))
			for k := range n { // may overlap its source, as LZ77 copies do
				b[i+k] = b[i-back+k]
			}
		} else {
			for k := 0; k < n; k += 8 {
				v := r.Uint64()
				for j := 0; j < 8 && k+j < n; j++ {
					b[i+k+j] = byte(v >> (8 * j))
				}
			}
		}
		i += n
	}
}
