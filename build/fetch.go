package build

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

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// Fetched is what Fetch did.
type Fetched struct {
	Packages int    // fetched
	Bytes    int64  // their size
	CacheDir string // the cache they are in
	// Dirs are the repository directories filled under dest
	// (<branch>/<repo>/<arch>), in the order of the repositories.
	Dirs []string
}

// Fetch downloads and verifies the packages a build of opts would install
// (the same Profile, Packages or Lock, from the same repositories) into the
// cache. With dest not "", it also copies them, with the original signed
// APKINDEX.tar.gz of every repository, into dest laid out as a mirror
// (dest/<branch>/<repo>/<arch>/): a lock stays buildable after Alpine
// prunes old packages, and an offline build can be prepared for another
// machine. Of opts, only what chooses packages and repositories counts;
// Progress gets the resolve and fetch phases.
func Fetch(ctx context.Context, opts Options, dest string) (*Fetched, error) {
	r, err := resolveOptions(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	client, pkgs := r.client, r.sol.Packages
	f := &Fetched{Packages: len(pkgs), CacheDir: client.CacheDir}
	for _, p := range pkgs {
		f.Bytes += p.Size
	}
	paths, err := fetchPackages(ctx, client, pkgs, r.progress, r.phase)
	if err != nil {
		return nil, fmt.Errorf("fetching packages: %w", err)
	}
	if dest == "" {
		return f, nil
	}
	if f.Dirs, err = layOutMirror(dest, client, r.indexes, pkgs, paths); err != nil {
		return nil, fmt.Errorf("laying out %s: %w", dest, err)
	}
	return f, nil
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
