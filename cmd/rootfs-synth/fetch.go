package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// fetchCommand is `rootfs-synth fetch [flags]`.
func fetchCommand() *cli.Command {
	flags := append(selectionFlags(),
		&cli.StringFlag{
			Name: "dest",
			Usage: "also lay the packages out in `DIR` as a mirror: DIR/<branch>/<repo>/<arch>/ holds the " +
				"original signed APKINDEX.tar.gz and the .apk files",
		},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print errors only"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log every package"},
	)
	return &cli.Command{
		Name:  "fetch",
		Usage: "download and verify the packages of a build into the cache, or into a mirror directory",
		Description: "Resolves the same selection a build would (--profile, --packages or --lock) and\n" +
			"downloads every package, verified against the signed index, into the cache. With\n" +
			"--dest DIR the indexes and packages are also copied into DIR laid out like an\n" +
			"Alpine mirror, so that a lock stays buildable after Alpine prunes old packages\n" +
			"and a build can run offline, on this machine or another:\n\n" +
			"   rootfs-synth fetch --lock report.json --dest /srv/alpine\n" +
			"   rootfs-synth --lock report.json --offline --mirror file:///srv/alpine",
		Flags:  flags,
		Action: runFetch,
	}
}

func runFetch(cCtx *cli.Context) error {
	if cCtx.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("fetch: unexpected argument %q: it takes flags only", cCtx.Args().First()), 2)
	}
	ctx, stop := interruptContext(cCtx.Context)
	defer stop()
	u := newUI(cCtx.App.ErrWriter, cCtx.Bool("quiet"), cCtx.Bool("verbose"))
	defer u.close()
	sel, err := newSelection(cCtx)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	client, err := sel.client(cCtx, u.logger())
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	client.Progress = u.download
	err = fetchSelection(ctx, cCtx, client, sel, cCtx.String("dest"), u)
	if cause := context.Cause(ctx); cause != nil && err != nil {
		return fmt.Errorf("fetch: %w", cause)
	}
	if err != nil {
		return oneLine(fmt.Errorf("fetch: %w", err))
	}
	return nil
}

// fetchSelection is the fetch command's flow: resolve, download, lay out.
func fetchSelection(ctx context.Context, cCtx *cli.Context, client *apk.Client, sel *selection, dest string, u *ui) error {
	pkgs, indexes, err := resolveSelection(ctx, client, sel)
	if err != nil {
		return fmt.Errorf("resolving packages: %w", err)
	}
	u.startFetch(pkgs, cachedPackages(client, pkgs))
	paths, err := client.FetchPackages(ctx, pkgs)
	u.endBars(err == nil)
	if err != nil {
		return fmt.Errorf("fetching packages: %w", err)
	}
	var size int64
	for _, p := range pkgs {
		size += p.Size
	}
	if dest == "" {
		fmt.Fprintf(cCtx.App.Writer, "fetched %d packages (%s) into the cache %s\n", len(pkgs), sizeString(size), client.CacheDir)
		return nil
	}
	dirs, err := layOutMirror(dest, client, indexes, pkgs, paths)
	if err != nil {
		return fmt.Errorf("laying out %s: %w", dest, err)
	}
	fmt.Fprintf(cCtx.App.Writer, "fetched %d packages (%s) into %s: %s\n", len(pkgs), sizeString(size), dest, strings.Join(dirs, ", "))
	return nil
}

// layOutMirror copies the original index archive of every repository
// (also of those no package came from: a build reads them all) and the
// packages into dest, laid out as a mirror, and returns the repository
// directories it filled.
func layOutMirror(dest string, client *apk.Client, indexes []*apk.Index, pkgs []*apk.Package, paths []string) ([]string, error) {
	relOf := make(map[*apk.Index]string, len(indexes))
	byRel := make(map[string]*apk.Index, len(indexes))
	var order []string
	for _, idx := range indexes {
		rel, err := mirrorPath(idx, client.Arch)
		if err != nil {
			return nil, err
		}
		if other, ok := byRel[rel]; ok {
			return nil, fmt.Errorf("repositories %s and %s would both go to %s", other.Source, idx.Source, rel)
		}
		relOf[idx], byRel[rel] = rel, idx
		order = append(order, rel)
		if err := copyCachedIndex(filepath.Join(dest, filepath.FromSlash(rel)), client, idx); err != nil {
			return nil, err
		}
	}
	for i, p := range pkgs {
		rel, ok := relOf[p.Repository]
		if !ok {
			return nil, fmt.Errorf("copying %s: it comes from none of the fetched indexes", p)
		}
		dst := filepath.Join(dest, filepath.FromSlash(rel), p.Name+"-"+p.Version+".apk")
		if err := copyFileAtomic(dst, paths[i]); err != nil {
			return nil, fmt.Errorf("copying %s: %w", p, err)
		}
	}
	return order, nil
}

// mirrorPath is where an index's repository goes in a mirror directory:
// the last two elements of its base URL (<branch>/<repo>) and the arch.
func mirrorPath(idx *apk.Index, arch string) (string, error) {
	base, ok := strings.CutSuffix(idx.Source, "/"+arch+"/APKINDEX.tar.gz")
	u, err := url.Parse(base)
	if !ok || err != nil {
		return "", fmt.Errorf("repository %s: not an <base>/<arch>/APKINDEX.tar.gz address", idx.Source)
	}
	elems := strings.Split(strings.Trim(u.Path, "/"), "/")
	// Each becomes a directory of --dest: ".." would climb out of it.
	if len(elems) < 2 || !plainName(elems[len(elems)-1]) || !plainName(elems[len(elems)-2]) {
		return "", fmt.Errorf("repository %s: its address does not end in <branch>/<repo>", base)
	}
	return path.Join(elems[len(elems)-2], elems[len(elems)-1], arch), nil
}

// copyCachedIndex copies the index archive that idx was read from, as the
// client cached it (the original signed bytes, verified again), into dir.
func copyCachedIndex(dir string, client *apk.Client, idx *apk.Index) error {
	data, err := client.CachedIndexArchive(idx)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "APKINDEX.tar.gz"), bytes.NewReader(data))
}

func copyFileAtomic(dst, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeAtomic(dst, f)
}

// writeAtomic makes path hold r's bytes, through a temporary file in the
// same directory renamed into place; on error nothing is left.
func writeAtomic(path string, r io.Reader) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
