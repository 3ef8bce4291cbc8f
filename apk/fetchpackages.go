package apk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/privdir"
)

// FetchPackages makes every package of pkgs present and verified in the
// cache and returns the cached .apk paths in the same order. The packages
// must come from indexes this client fetched (or whose Source is an
// APKINDEX.tar.gz URL).
//
// Verified means the file matches its index record to the last byte: the
// size, the control member's SHA-1 (C:) and the data member's SHA-256
// (datahash); see verifyPackageFile. A cached package is verified again
// before it is used; one that fails is logged and fetched again. A download
// is verified as it streams into a temporary file, which enters the cache
// by rename only when it matches, so no partial or unverified file is ever
// visible under a cache name. Up to Parallel packages are fetched at once;
// the first failure stops the rest. Offline, the error names every package
// missing from the cache.
func (c *Client) FetchPackages(ctx context.Context, pkgs []*Package) ([]string, error) {
	cacheDir, err := c.cacheDir()
	if err != nil {
		return nil, err
	}
	type job struct {
		pkg    *Package
		path   string
		origin indexOrigin
		dups   []int // the positions in pkgs of this package
	}
	sweepStaleTemps(filepath.Join(cacheDir, "packages"), time.Now())
	paths := make([]string, len(pkgs))
	var jobs []*job
	first := make(map[string]*job)
	for i, p := range pkgs {
		path, err := packageCachePath(cacheDir, p)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", p, err)
		}
		if j, ok := first[path]; ok {
			j.dups = append(j.dups, i)
			continue
		}
		o, err := c.origin(p.Repository)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", p, err)
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
				err := c.fetchPackage(ctx, cacheDir, j.pkg, j.path, j.origin)
				switch {
				case err == nil:
					for _, i := range j.dups {
						paths[i] = j.path
					}
				case errors.Is(err, errOfflineMissing):
					mu.Lock()
					missing = append(missing, j.pkg.String())
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

// fetchPackage makes one package present and verified at path, in the
// cache directory cacheDir.
func (c *Client) fetchPackage(ctx context.Context, cacheDir string, p *Package, path string, o indexOrigin) error {
	id := p.String()
	var resigned *resignedError
	if err := verifyCached(cacheDir, p, path); err == nil {
		c.progress(Progress{Package: id, Done: p.Size, Total: p.Size})
		return nil
	} else if errors.As(err, &resigned) {
		// Nothing is wrong with the cache: apk would fetch it again too.
		c.logger().Info("cached package changed upstream (signed again), fetching it again", "package", id, "err", err)
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
		return writeFileAtomic(cacheDir, path, func(f *os.File) error {
			pr := &progressReader{r: d.body, c: c, p: Progress{Package: id, Total: total}}
			if p.Size > 0 && d.size > p.Size {
				return fmt.Errorf("verifying %s: %d bytes, index says %d", u, d.size, p.Size)
			}
			// Read at most one byte more than the index allows, so that a
			// mirror cannot fill the disk.
			limit := int64(maxPackageSize)
			if p.Size > 0 {
				limit = p.Size + 1
			}
			if err := copyVerified(f, io.LimitReader(pr, limit), p); err != nil {
				if d.body.readErr != nil {
					return transient(d.body.readErr) // names the URL already
				}
				return fmt.Errorf("verifying %s: %w", u, err)
			}
			if d.size >= 0 && pr.p.Done != d.size {
				return transient(fmt.Errorf("%s: got %d of %d bytes", u, pr.p.Done, d.size))
			}
			return nil
		})
	})
}

// copyVerified copies the package in r to f in one pass, verifying it as
// verifyPackageFile does: NewPackageReader checks the control member
// against C: as soon as it has arrived, and the data member is hashed as
// it streams into the file.
func copyVerified(f *os.File, r io.Reader, p *Package) error {
	pr, err := NewPackageReader(io.TeeReader(r, f), p)
	if err != nil {
		return err
	}
	// The reader has consumed (and the tee written) the header and the
	// start of the data member; hash that start from the file, the rest
	// on its way in.
	written, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, pr.dataOffset(), written-pr.dataOffset())); err != nil {
		return err
	}
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return err
	}
	if size := written + n; p.Size > 0 && size != p.Size {
		more := "" // the reader stops one byte past the index's size
		if size > p.Size {
			more = " or more"
		}
		return fmt.Errorf("package %s has %d bytes%s, the index says %d", p, size, more, p.Size)
	}
	if err := pr.checkDataHash(h.Sum(nil)); err != nil {
		return fmt.Errorf("package %s: %w", p, err)
	}
	return nil
}

// maxPackageSize bounds a download whose index record has no size.
const maxPackageSize = 4 << 30

// verifyCached checks the cached copy of p; the error wraps os.ErrNotExist
// when there is none.
func verifyCached(cacheDir string, p *Package, path string) error {
	f, err := privdir.Open(cacheDir, path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := verifyPackageFile(f, p); err != nil {
		return fmt.Errorf("verifying %s: %w", path, err)
	}
	return nil
}

// verifyPackageFile checks that f holds exactly the package of the index
// record p: the SHA-1 of its control member against C: (by
// NewPackageReader, which also parses .PKGINFO), the SHA-256 of every
// byte of its data member against the datahash there, and its size. That
// chain, rooted in the signed index, covers every byte of the file.
// Inflating the data to check each file's own SHA-1 is left to the reader
// that unpacks it, so that a cache hit costs one SHA-256 pass and not a
// second unpacking. A file whose members match but whose size does not is
// a *resignedError.
func verifyPackageFile(f *os.File, p *Package) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pr, err := NewPackageReader(io.NewSectionReader(f, 0, st.Size()), p)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, pr.dataOffset(), st.Size()-pr.dataOffset())); err != nil {
		return fmt.Errorf("reading package %s: %w", p, err)
	}
	if err := pr.checkDataHash(h.Sum(nil)); err != nil {
		return fmt.Errorf("package %s: %w", p, err)
	}
	if p.Size > 0 && st.Size() != p.Size {
		return &resignedError{p: p, size: st.Size()}
	}
	return nil
}

// resignedError is a package file whose control and data members are the
// ones its index record names, in a file of another size: only the
// signature member, which C: does not cover, differs. Upstream signed the
// package again (a new key, a rebuilt index); the cache is not at fault.
type resignedError struct {
	p    *Package
	size int64
}

func (e *resignedError) Error() string {
	return fmt.Sprintf("package %s has %d bytes, the index says %d: its signature differs", e.p, e.size, e.p.Size)
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
