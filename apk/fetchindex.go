package apk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FetchIndex returns the verified index of repo for the client's arch.
//
// Online, the mirrors are tried in order (see Client.Retries); a mirror whose
// index is cached is asked conditionally (If-None-Match/If-Modified-Since)
// and a 304 reuses the cached copy. An index that does not verify against
// the keys is refused and the next mirror tried. Offline, the first mirror
// with a cached index serves it; file:// mirrors are read directly. Cached
// copies are verified again on every use.
func (c *Client) FetchIndex(ctx context.Context, repo Repository) (*Index, error) {
	if len(repo.URLs) == 0 {
		return nil, errors.New("fetching index: repository has no URL")
	}
	arch, err := c.arch()
	if err != nil {
		return nil, fmt.Errorf("fetching index of %s: %w", repo, err)
	}
	keys, err := c.keys(arch)
	if err != nil {
		return nil, fmt.Errorf("fetching index of %s: %w", repo, err)
	}
	cacheDir, err := c.cacheDir()
	if err != nil {
		return nil, err
	}
	var idx *Index
	fetch := func(ctx context.Context, base string) error {
		i, err := c.fetchIndexFrom(ctx, base, arch, repo.Tag, keys, cacheDir)
		if err == nil {
			idx = i
		}
		return err
	}
	if c.Offline {
		var errs []string
		for _, base := range repo.URLs {
			var err error
			if strings.HasPrefix(base, "file:") {
				err = fetch(ctx, base)
			} else {
				err = c.cachedIndex(base, arch, repo.Tag, keys, cacheDir, &idx)
			}
			if err == nil {
				break
			}
			var unknownKey *UnknownKeyError
			if errors.As(err, &unknownKey) {
				// The cache holds the index as served; the key is missing.
				return nil, fmt.Errorf("fetching index of %s: %w", repo, err)
			}
			errs = append(errs, err.Error())
		}
		if idx == nil {
			return nil, fmt.Errorf("offline: no usable cached index of %s for %s: %s", repo, arch, strings.Join(errs, "; "))
		}
	} else if err := c.withMirrors(ctx, "index of "+repo.String(), repo.URLs, fetch); err != nil {
		return nil, err
	}
	if !idx.Trusted {
		c.logger().Warn("using an UNTRUSTED index", "repository", idx.Source)
	}
	c.remember(idx, indexOrigin{repo: repo, arch: arch})
	return idx, nil
}

func indexURL(base, arch string) string { return base + "/" + arch + "/" + indexFile }

// cachedIndex reads the cached index of one mirror without any network.
func (c *Client) cachedIndex(base, arch, tag string, keys *KeyRing, cacheDir string, out **Index) error {
	u := indexURL(base, arch)
	data, _, err := loadCachedIndex(cacheDir, indexCacheDir(cacheDir, base, arch))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is not cached", u)
	}
	if err != nil {
		return fmt.Errorf("cached index %s: %w", u, err)
	}
	idx, err := c.readIndex(data, u, tag, keys)
	var unknownKey *UnknownKeyError
	if errors.As(err, &unknownKey) {
		return err
	}
	if err != nil {
		return fmt.Errorf("cached %w", err)
	}
	*out = idx
	return nil
}

// fetchIndexFrom fetches, verifies and caches the index of one mirror.
func (c *Client) fetchIndexFrom(ctx context.Context, base, arch, tag string, keys *KeyRing, cacheDir string) (*Index, error) {
	u := indexURL(base, arch)
	dir := indexCacheDir(cacheDir, base, arch)
	// A cached index that cannot be used is fetched whole and replaced.
	cached, meta, err := loadCachedIndex(cacheDir, dir)
	var v validators
	if err == nil && meta.URL == u {
		v = meta.Validators
	}
	d, err := c.open(ctx, u, v)
	if err != nil {
		return nil, err
	}
	if d.notModified {
		idx, err := c.readIndex(cached, u, tag, keys)
		if err == nil {
			c.logger().Debug("index not modified", "url", u)
			return idx, nil
		}
		// The cached copy no longer verifies (a key was removed, or it was
		// damaged): fetch it whole.
		c.logger().Info("cached index unusable, fetching it whole", "url", u, "err", err)
		if d, err = c.open(ctx, u, validators{}); err != nil {
			return nil, err
		}
		if d.notModified {
			return nil, fmt.Errorf("%s: answered an unconditional request with 304", u)
		}
	}
	defer d.body.Close()
	// The body streams through the verifier into a temporary file beside
	// the cached copy, never into memory: an index that does not verify
	// fails at its first bad byte, and an endless one at the bound.
	var idx *Index
	sum := sha256.New()
	err = writeFileAtomic(cacheDir, filepath.Join(dir, indexFile), func(f *os.File) error {
		body := io.TeeReader(io.LimitReader(d.body, maxIndexArchiveSize+1), io.MultiWriter(f, sum))
		i, err := c.readIndexFrom(body, u, tag, keys)
		if err == nil {
			_, err = io.Copy(io.Discard, body) // cache what was served, to its end
		}
		got := d.body.n.Load()
		switch {
		case got > maxIndexArchiveSize:
			return fmt.Errorf("%s: index is larger than %d MiB", u, maxIndexArchiveSize>>20)
		case d.body.readErr != nil:
			return transient(d.body.readErr)
		case err != nil:
			return err
		case d.size >= 0 && got != d.size:
			return transient(fmt.Errorf("%s: got %d of %d bytes", u, got, d.size))
		}
		idx = i
		return nil
	})
	if err != nil {
		return nil, err
	}
	stored := indexMeta{URL: u, Validators: d.validators, SHA256: hex.EncodeToString(sum.Sum(nil))}
	if err := storeIndexMeta(cacheDir, dir, stored); err != nil {
		return nil, fmt.Errorf("caching %s: %w", u, err)
	}
	return idx, nil
}

func (c *Client) readIndex(data []byte, u, tag string, keys *KeyRing) (*Index, error) {
	return c.readIndexFrom(bytes.NewReader(data), u, tag, keys)
}

func (c *Client) readIndexFrom(r io.Reader, u, tag string, keys *KeyRing) (*Index, error) {
	return ReadIndexArchive(r, keys, IndexOptions{
		Source:         u,
		Tag:            tag,
		AllowUntrusted: c.AllowUntrusted,
	})
}
