package apk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
)

// FetchPackages makes every package of pkgs present and verified in the
// cache and returns the cached .apk paths in the same order. The packages
// must come from indexes this client fetched (or whose Source is an
// APKINDEX.tar.gz URL).
//
// A cached package is verified again (control SHA-1 against C:, datahash,
// every file's checksum) before it is used; one that fails is logged and
// fetched again. A download is verified while it is written to a temporary
// file and enters the cache only when it matches its index record, so no
// partial or unverified file is ever visible under a cache name. Up to
// Parallel packages are fetched at once; the first failure stops the rest.
// Offline, the error names every package missing from the cache.
func (c *Client) FetchPackages(ctx context.Context, pkgs []*Package) ([]string, error) {
	cacheDir, err := c.cacheDir()
	if err != nil {
		return nil, err
	}
	type job struct {
		pkg    *Package
		path   string
		origin indexOrigin
		dups   []int // later positions of the same checksum
	}
	paths := make([]string, len(pkgs))
	var jobs []*job
	first := make(map[string]*job)
	for i, p := range pkgs {
		path, err := packageCachePath(cacheDir, p)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", pkgID(p), err)
		}
		if j, ok := first[path]; ok {
			j.dups = append(j.dups, i)
			continue
		}
		o, err := c.origin(p.Repository)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", pkgID(p), err)
		}
		j := &job{pkg: p, path: path, origin: o, dups: []int{i}}
		first[path] = j
		jobs = append(jobs, j)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg      sync.WaitGroup
		next    = make(chan *job)
		mu      sync.Mutex
		missing []string // offline
	)
	for range min(c.parallel(), len(jobs)) {
		wg.Go(func() {
			for j := range next {
				err := c.fetchPackage(ctx, j.pkg, j.path, j.origin)
				switch {
				case err == nil:
					for _, i := range j.dups {
						paths[i] = j.path
					}
				case errors.Is(err, errOfflineMissing):
					mu.Lock()
					missing = append(missing, pkgID(j.pkg))
					mu.Unlock()
				default:
					cancel(err)
				}
			}
		})
	}
feed:
	for _, j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("offline: %d of %d packages are missing from (or corrupt in) the cache %s: %s",
			len(missing), len(jobs), cacheDir, strings.Join(missing, ", "))
	}
	return paths, nil
}

var errOfflineMissing = errors.New("not cached")

func pkgID(p *Package) string { return p.Name + "-" + p.Version }

// fetchPackage makes one package present and verified at path.
func (c *Client) fetchPackage(ctx context.Context, p *Package, path string, o indexOrigin) error {
	id := pkgID(p)
	if err := c.verifyCached(p, path); err == nil {
		c.progress(Progress{Package: id, Done: p.Size, Total: p.Size})
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		c.logger().Warn("cached package is corrupt, fetching it again", "package", id, "path", path, "err", err)
	}
	bases := o.repo.URLs
	if c.Offline {
		var local []string
		for _, b := range bases {
			if strings.HasPrefix(b, "file:") {
				local = append(local, b)
			}
		}
		if len(local) == 0 {
			return errOfflineMissing
		}
		bases = local
	}
	return c.withMirrors(ctx, id, bases, func(ctx context.Context, base string) error {
		u := base + "/" + o.arch + "/" + url.PathEscape(id) + ".apk"
		d, err := c.open(ctx, u, validators{})
		if err != nil {
			return err
		}
		defer d.body.Close()
		total := p.Size
		if total <= 0 {
			total = d.size
		}
		return writeFileAtomic(path, func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 128<<10)
			pr := &progressReader{r: d.body, c: c, p: Progress{Package: id, Total: total}}
			if err := c.verifyStream(io.TeeReader(pr, bw), p, u); err != nil {
				return d.body.failed(err)
			}
			// Bytes after the data member are no part of the package; a
			// size check below refuses them.
			if _, err := io.Copy(bw, pr); err != nil {
				return d.body.failed(err)
			}
			if p.Size > 0 && pr.p.Done != p.Size {
				return fmt.Errorf("verifying %s: %d bytes, index says %d", u, pr.p.Done, p.Size)
			}
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("caching %s: %w", id, err)
			}
			return nil
		})
	})
}

// verifyCached checks the cached copy of p; the error wraps os.ErrNotExist
// when there is none.
func (c *Client) verifyCached(p *Package, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return err
	} else if p.Size > 0 && st.Size() != p.Size {
		return fmt.Errorf("%s: %d bytes, index says %d", path, st.Size(), p.Size)
	}
	return c.verifyStream(f, p, path)
}

func (c *Client) verifyStream(r io.Reader, p *Package, where string) error {
	if _, err := VerifyPackage(r, p); err != nil {
		return fmt.Errorf("verifying %s: %w", where, err)
	}
	return nil
}

// progressReader counts bytes and reports them through the client.
type progressReader struct {
	r io.Reader
	c *Client
	p Progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.p.Done += int64(n)
		r.c.progress(r.p)
	}
	return n, err
}
