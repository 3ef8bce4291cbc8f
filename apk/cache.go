package apk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/privdir"
)

// The cache directory layout:
//
//	indexes/<mirror key>/<arch>/APKINDEX.tar.gz   the verified index archive as served
//	indexes/<mirror key>/<arch>/APKINDEX.json     its ETag/Last-Modified and SHA-256
//	packages/<name>-<version>.<sha1 hex of C:>.apk
//
// Packages are content-addressed by their index checksum, so one cache
// serves every repository and mirror. Every entry is written to a temporary
// file in the same directory and renamed into place, so another process
// sees either nothing or a whole file. Nothing is fsynced: every entry is
// verified again each time it is used (the index signature; the package's
// size, control SHA-1 and datahash), so a file torn by a crash is detected
// and fetched again instead of trusted. The cache must be private to the
// user (internal/privdir): the unpacked store beside it is trusted.

const (
	indexFile           = "APKINDEX.tar.gz"
	indexMetaFile       = "APKINDEX.json"
	maxIndexArchiveSize = 64 << 20 // on disk while it streams in; see below
)

// maxIndexArchiveSize bounds an index archive as served. A v3.23 community
// APKINDEX.tar.gz is about 2 MB, so 64 MiB leaves thirty-fold room while an
// endless body from a hostile mirror ends soon; it streams into a temporary
// file in the cache (as apk-tools' own cache download does), so the bound
// costs disk, not memory.

// indexMeta is the sidecar of a cached index.
type indexMeta struct {
	URL        string     `json:"url"`
	Validators validators `json:"validators"`
	SHA256     string     `json:"sha256"` // of the APKINDEX.tar.gz next to it
}

// indexCacheDir returns the directory caching base's index for arch.
func indexCacheDir(cacheDir, base, arch string) string {
	sum := sha256.Sum256([]byte(base))
	key := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://"))
	if len(key) > 80 {
		key = key[len(key)-80:]
	}
	return filepath.Join(cacheDir, "indexes", key+"-"+hex.EncodeToString(sum[:6]), arch)
}

// loadCachedIndex returns the cached index archive of a mirror in dir,
// below the cache directory cacheDir, and its validators; the error says
// why there is none to use (wrapping fs.ErrNotExist when there is none at
// all): it is missing, does not match its sidecar, or is not private to
// the user (then it must be fetched unconditionally).
func loadCachedIndex(cacheDir, dir string) (data []byte, meta indexMeta, err error) {
	mb, err := privdir.ReadFile(cacheDir, filepath.Join(dir, indexMetaFile))
	if err != nil {
		return nil, indexMeta{}, err
	}
	if err := json.Unmarshal(mb, &meta); err != nil {
		return nil, indexMeta{}, fmt.Errorf("reading %s: %w", filepath.Join(dir, indexMetaFile), err)
	}
	f, err := privdir.Open(cacheDir, filepath.Join(dir, indexFile))
	if err != nil {
		return nil, indexMeta{}, err
	}
	defer f.Close()
	// No larger than what fetchIndexFrom lets in.
	data, err = io.ReadAll(io.LimitReader(f, maxIndexArchiveSize+1))
	if err != nil {
		return nil, indexMeta{}, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	if len(data) > maxIndexArchiveSize {
		return nil, indexMeta{}, fmt.Errorf("%s is larger than %d MiB", f.Name(), maxIndexArchiveSize>>20)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != meta.SHA256 {
		return nil, indexMeta{}, fmt.Errorf("%s does not match its sidecar %s", filepath.Join(dir, indexFile), indexMetaFile)
	}
	return data, meta, nil
}

// storeIndexMeta writes, into dir below the cache directory cacheDir, the
// sidecar of an index archive fetchIndexFrom has just put in place;
// meta.SHA256 ties the two together.
func storeIndexMeta(cacheDir, dir string, meta indexMeta) error {
	mb, err := json.MarshalIndent(meta, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(cacheDir, filepath.Join(dir, indexMetaFile), func(w *os.File) error {
		_, err := w.Write(mb)
		return err
	})
}

// packageCachePath returns the cache path of p, named by its checksum.
func packageCachePath(cacheDir string, p *Package) (string, error) {
	if len(p.Checksum) == 0 {
		return "", errors.New("the index record has no checksum (C:)")
	}
	if !safeFileNamePart(p.Name) || !safeFileNamePart(p.Version) {
		return "", fmt.Errorf("name or version %q is not usable in a file name", p.Name+"-"+p.Version)
	}
	return filepath.Join(cacheDir, "packages", p.Name+"-"+p.Version+"."+hex.EncodeToString(p.Checksum)+".apk"), nil
}

func safeFileNamePart(s string) bool {
	return s != "" && s[0] != '.' && !strings.ContainsAny(s, "/\\\x00")
}

// writeFileAtomic makes path, below the cache directory cacheDir, hold
// what fill writes, or leaves it as it was: fill writes to a temporary file
// in the same directory, which is renamed over path only when fill and the
// close succeed, and removed otherwise.
func writeFileAtomic(cacheDir, path string, fill func(f *os.File) error) (err error) {
	dir := filepath.Dir(path)
	if err := privdir.MkdirAll(cacheDir, dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("creating cache file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing cache file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing cache file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing cache file: %w", err)
	}
	return nil
}

// staleTempAge is how old a temporary file must be before sweepStaleTemps
// removes it: one being written by a live process has a fresh mtime.
const staleTempAge = time.Hour

// sweepStaleTemps removes the temporary files that processes killed in the
// middle of a write left in dir (see privdir.SweepTemps: never through a
// symlink, only ours).
func sweepStaleTemps(dir string, now time.Time) {
	privdir.SweepTemps(filepath.Dir(dir), filepath.Base(dir), isTempName, now.Add(-staleTempAge))
}

// isTempName reports whether name is one writeFileAtomic's CreateTemp
// makes: "." + the entry's name + ".tmp" + decimal digits.
func isTempName(name string) bool {
	i := strings.LastIndex(name, ".tmp")
	return strings.HasPrefix(name, ".") && i > 1 && privdir.IsTemp(name, name[:i+len(".tmp")])
}

// CachedIndexArchive returns the APKINDEX.tar.gz that idx was read from,
// as this client cached it: the original signed bytes, verified again and
// checked to be the same index (for copying a repository into a
// mirror-shaped directory).
func (c *Client) CachedIndexArchive(idx *Index) ([]byte, error) {
	cacheDir, err := c.cacheDir()
	if err != nil {
		return nil, err
	}
	arch, err := c.arch()
	if err != nil {
		return nil, err
	}
	base, ok := strings.CutSuffix(idx.Source, "/"+arch+"/"+indexFile)
	if !ok {
		return nil, fmt.Errorf("index %s: not a <base>/%s/%s address", idx.Source, arch, indexFile)
	}
	data, _, err := loadCachedIndex(cacheDir, indexCacheDir(cacheDir, base, arch))
	if err != nil {
		return nil, fmt.Errorf("index %s: not usable from the cache %s: %w", idx.Source, cacheDir, err)
	}
	keys, err := c.keys(arch)
	if err != nil {
		return nil, err
	}
	again, err := ReadIndexArchive(bytes.NewReader(data), keys, IndexOptions{Source: idx.Source, Tag: idx.Tag, AllowUntrusted: c.AllowUntrusted})
	if err != nil {
		return nil, fmt.Errorf("index %s in the cache: %w", idx.Source, err)
	}
	if again.Description != idx.Description || len(again.Packages) != len(idx.Packages) {
		return nil, fmt.Errorf("index %s: the cached copy changed since it was read", idx.Source)
	}
	return data, nil
}

// IsCached reports whether p's file is in the cache (by name and size;
// FetchPackages verifies it in full before it is used).
func (c *Client) IsCached(p *Package) bool {
	cacheDir, err := c.cacheDir()
	if err != nil {
		return false
	}
	path, err := packageCachePath(cacheDir, p)
	if err != nil {
		return false
	}
	st, err := os.Stat(path)
	return err == nil && st.Size() == p.Size
}
