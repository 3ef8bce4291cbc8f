// Command alpinemirror writes and serves the generated Alpine-shaped
// mirror the build benchmark (bench/build.sh) runs against: the
// alpinetest base packages plus the synthetic "balanced"-sized packages
// (150 packages, 25,000 files, 250 MB unpacked) times -times, signed with
// a throwaway key.
//
//	alpinemirror write -times 1 -list world.txt DIR   # DIR/v3.23/{main,community}/x86_64/..., DIR/<key>.rsa.pub
//	alpinemirror serve -url-file url.txt DIR          # serves DIR on 127.0.0.1 until killed
//
// write prints the repository's size; -list gets the .apk files of the
// bench-world closure (alpinetest.BaseWorld's with -times 0) in install order (paths relative to DIR), for
// unpacking the same tree for mke2fs -d.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "write":
		err = write(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "alpinemirror:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: alpinemirror write [-times N] [-testdata DIR] [-list FILE] DIR\n       alpinemirror serve [-url-file FILE] DIR")
	os.Exit(2)
}

func write(args []string) error {
	fl := flag.NewFlagSet("write", flag.ExitOnError)
	times := fl.Int("times", 1, "multiple of the balanced size (0: the base packages only)")
	testdata := fl.String("testdata", "", "shared reference data (default ../shared/testdata from the repository root)")
	list := fl.String("list", "", "write the bench-world closure's .apk paths here, in install order")
	fl.Parse(args)
	if fl.NArg() != 1 {
		usage()
	}
	dir := fl.Arg(0)
	if *testdata == "" {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		*testdata = filepath.Join(root, "..", "shared", "testdata")
	}
	opts := alpinetest.Options{Testdata: *testdata}
	if *times > 0 {
		opts.Scale = alpinetest.Balanced.Times(*times)
	}
	repos, err := alpinetest.WriteMirror(dir, opts)
	if err != nil {
		return err
	}
	var idx []*apk.Index
	for _, repo := range []*apktest.Repo{repos.Main, repos.Community} {
		f, err := os.Open(filepath.Join(dir, repo.Branch, repo.Name, repo.Arch, "APKINDEX.tar.gz"))
		if err != nil {
			return err
		}
		i, err := apk.ReadIndexArchive(f, repos.KeyRing(), apk.IndexOptions{Source: repo.Name})
		f.Close()
		if err != nil {
			return err
		}
		idx = append(idx, i)
	}
	atoms := alpinetest.BaseWorld
	if *times > 0 {
		atoms = []string{alpinetest.ScaleWorld}
	}
	var world []apk.Dependency
	for _, a := range atoms {
		d, err := apk.ParseDependency(a)
		if err != nil {
			return err
		}
		world = append(world, d)
	}
	pkgs, err := apk.Solve(world, idx, apk.SolveOptions{})
	if err != nil {
		return fmt.Errorf("solving %s: %w", strings.Join(atoms, " "), err)
	}
	var size, installed int64
	var paths []string
	for _, p := range pkgs {
		size += p.Size
		installed += p.InstalledSize
		repo := "main"
		if p.Repository == idx[1] {
			repo = "community"
		}
		paths = append(paths, filepath.Join(alpinetest.Branch, repo, alpinetest.Arch, p.Name+"-"+p.Version+".apk"))
	}
	if *list != "" {
		if err := os.WriteFile(*list, []byte(strings.Join(paths, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d packages in %s, %.1f MB packed, %.1f MB unpacked, key %s\n",
		dir, len(pkgs), strings.Join(atoms, " "), float64(size)/1e6, float64(installed)/1e6, repos.Key.Name)
	return nil
}

// repoRoot finds the module root from the working directory.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("no go.mod above the working directory; give -testdata")
		}
		d = parent
	}
}

func serve(args []string) error {
	fl := flag.NewFlagSet("serve", flag.ExitOnError)
	urlFile := fl.String("url-file", "", "write the base URL here once listening")
	fl.Parse(args)
	if fl.NArg() != 1 {
		usage()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if *urlFile != "" {
		tmp := *urlFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(url+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, *urlFile); err != nil {
			return err
		}
	}
	fmt.Println(url)
	return http.Serve(ln, http.FileServer(http.Dir(fl.Arg(0))))
}
