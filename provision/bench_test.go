package provision

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// benchPackages makes n packages of files entries each (sizes 0.5–8 KB,
// one in ten a symlink), deterministic.
func benchPackages(n, files int) []apktest.Pkg {
	rng := rand.New(rand.NewPCG(1, 2))
	var pkgs []apktest.Pkg
	for i := range n {
		p := apktest.Pkg{Name: fmt.Sprintf("pkg%03d", i), Version: "1.0-r0"}
		for j := range files {
			name := fmt.Sprintf("usr/lib/pkg%03d/d%02d/f%04d", i, j%16, j)
			if j%10 == 9 {
				p.Files = append(p.Files, apktest.File{Name: name, Linkname: "f0000"})
				continue
			}
			data := make([]byte, 512+rng.IntN(7680))
			for k := range data {
				data[k] = byte(rng.IntN(16)) // compressible, like code
			}
			p.Files = append(p.Files, apktest.File{Name: name, Data: data})
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// BenchmarkProvision: cold (an empty store: every package inflated) and
// warm (manifests only), 150 packages of 170 entries.
func BenchmarkProvision(b *testing.B) {
	pkgs := benchPackages(150, 170)
	var world []string
	for _, p := range pkgs {
		world = append(world, p.Name)
	}
	f := newFixture(b, pkgs, world...)
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				if mode == "cold" {
					b.StopTimer()
					os.RemoveAll(f.store)
					b.StartTimer()
				}
				if _, err := Provision(context.Background(), f.options()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
