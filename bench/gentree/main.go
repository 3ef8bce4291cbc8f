// Command gentree writes a deterministic synthetic directory tree for the
// mkfs benchmarks: directories, regular files with a long-tailed size
// distribution and pseudo-random (incompressible, non-zero) content, and
// symlinks, like a root filesystem.
//
//	go run ./bench/gentree -files 25000 -bytes 250000000 -dirs 1200 -symlinks 2000 DIR
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func main() {
	files := flag.Int("files", 200, "regular files")
	total := flag.Int64("bytes", 8<<20, "total bytes of file content (approximately)")
	dirs := flag.Int("dirs", 90, "directories")
	symlinks := flag.Int("symlinks", 300, "symbolic links")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gentree [flags] DIR")
		os.Exit(2)
	}
	if err := generate(flag.Arg(0), *files, *dirs, *symlinks, *total, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gentree:", err)
		os.Exit(1)
	}
}

func generate(root string, files, ndirs, symlinks int, total int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 7))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	dirs := []string{root}
	for i := range ndirs {
		d := filepath.Join(dirs[r.IntN(len(dirs))], fmt.Sprintf("dir%04d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		dirs = append(dirs, d)
	}
	// Lognormal sizes (median ~ mean/4), scaled to the requested total.
	sizes := make([]float64, files)
	var sum float64
	for i := range sizes {
		sizes[i] = math.Exp(r.NormFloat64() * 1.6)
		sum += sizes[i]
	}
	buf := make([]byte, 1<<20)
	var paths []string
	for i, s := range sizes {
		size := int64(s / sum * float64(total))
		p := filepath.Join(dirs[r.IntN(len(dirs))], fmt.Sprintf("file%05d", i))
		if err := writeFile(p, size, r, buf); err != nil {
			return err
		}
		paths = append(paths, p)
	}
	for i := range symlinks {
		p := filepath.Join(dirs[r.IntN(len(dirs))], fmt.Sprintf("link%05d", i))
		target, _ := filepath.Rel(filepath.Dir(p), paths[r.IntN(len(paths))])
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(p string, size int64, r *rand.Rand, buf []byte) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for size > 0 {
		n := min(size, int64(len(buf)))
		for i := range buf[:n] {
			buf[i] = byte(r.Uint32()) | 1
		}
		w.Write(buf[:n])
		size -= n
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
