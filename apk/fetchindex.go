package apk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	data, _, ok := loadCachedIndex(indexCacheDir(cacheDir, base, arch))
	if !ok {
		return fmt.Errorf("%s is not cached", u)
	}
	idx, err := c.readIndex(data, u, tag, keys)
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
	cached, meta, haveCache := loadCachedIndex(dir)
	var v validators
	if haveCache && meta.URL == u {
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
	data, err := io.ReadAll(io.LimitReader(d.body, maxIndexArchiveSize+1))
	if err != nil {
		return nil, d.body.failed(err)
	}
	if len(data) > maxIndexArchiveSize {
		return nil, fmt.Errorf("%s: index larger than %d bytes", u, maxIndexArchiveSize)
	}
	if d.size >= 0 && int64(len(data)) != d.size {
		return nil, transient(fmt.Errorf("%s: got %d of %d bytes", u, len(data), d.size))
	}
	idx, err := c.readIndex(data, u, tag, keys)
	if err != nil {
		return nil, err
	}
	if err := storeCachedIndex(dir, data, indexMeta{URL: u, Validators: d.validators}); err != nil {
		return nil, fmt.Errorf("caching %s: %w", u, err)
	}
	return idx, nil
}

func (c *Client) readIndex(data []byte, u, tag string, keys *KeyRing) (*Index, error) {
	return ReadIndexArchive(bytes.NewReader(data), keys, IndexOptions{
		Source:         u,
		Tag:            tag,
		AllowUntrusted: c.AllowUntrusted,
	})
}
