package apk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/privdir"
)

// Defaults for the zero values of Client's fields.
const (
	DefaultParallel   = 4                      // concurrent package downloads
	DefaultRetries    = 3                      // extra rounds over all mirrors after a transient failure
	DefaultRetryDelay = 500 * time.Millisecond // wait before the first retry round; doubles each round
	DefaultTimeout    = 30 * time.Second       // longest wait for headers; the window a body's rate is judged over
	DefaultMinRate    = 1 << 10                // bytes/s a body must average over each Timeout window

	maxRetryDelay = 10 * time.Second
	userAgent     = "rootfs-synth"
)

// Client fetches verified indexes and packages from apk repositories into a
// local cache. Only Client touches the network, and only through HTTP.
//
// The zero value is ready to use: Alpine's keys for the host's arch, the
// user's cache directory, DefaultParallel downloads. Set the fields before
// the first call and do not change or copy them afterwards; the methods are
// safe for concurrent use. Several processes may share one CacheDir: every
// cache entry appears atomically by rename and is verified again on use.
type Client struct {
	// HTTP is the client for http and https URLs; nil means one with
	// dial, TLS-handshake and idle timeouts (http.DefaultClient has none)
	// whose dialer refuses link-local, unspecified, multicast and (unless
	// the mirror is on this machine) loopback addresses after a redirect
	// (see redirect.go). Whichever client, redirects are followed only to
	// http and https, at most 10, and a refused one fails that mirror
	// without a retry; a client given here keeps its own dialer, so only
	// redirects to such addresses written as IPs are refused.
	HTTP *http.Client
	// CacheDir holds verified indexes and packages; "" means
	// os.UserCacheDir()/rootfs-synth ($XDG_CACHE_HOME/rootfs-synth).
	CacheDir string
	// Keys are the trusted index signing keys; nil means AlpineKeys(Arch).
	Keys *KeyRing
	// Arch is the repository arch directory, e.g. "x86_64"; "" means the
	// host's (see HostArch).
	Arch string
	// AllowUntrusted accepts indexes that are unsigned or signed by an
	// unknown key. Packages are still checked against the index records.
	AllowUntrusted bool
	// Offline forbids network access: indexes and packages come from the
	// cache (or from file:// repositories), and what is missing is named in
	// the error.
	Offline bool
	// Parallel bounds concurrent package downloads; 0 means DefaultParallel.
	Parallel int
	// Retries is how many more times all mirrors are tried after a round in
	// which some failure was transient (connection error, 5xx, 408, 429,
	// stall, cut-off body); 0 means DefaultRetries, negative means none.
	// A mirror that could not be reached at all (no connection, or one
	// closed before any response) is not asked again by this Client once
	// another mirror served the file in its place or its retries ran out:
	// ErrUnreachable, said once (see unreachable.go).
	Retries int
	// RetryDelay is the wait before the first retry round, doubled for each
	// further round up to 10s, without jitter; 0 means DefaultRetryDelay.
	RetryDelay time.Duration
	// Timeout is the longest a request may wait for response headers, and
	// the window over which the body's rate is judged: a body that brings
	// fewer than MinRate×Timeout bytes in any such window (counted from the
	// headers) is given up as stalled or too slow, a transient failure, and
	// the next mirror is tried. 0 means DefaultTimeout (30s).
	Timeout time.Duration
	// MinRate is the slowest average, in bytes per second over each Timeout
	// window, that a body may keep up; 0 means DefaultMinRate (1 KiB/s, so
	// 30 KiB per 30s window by default), negative means any rate as long as
	// some byte arrives in each window. A mirror that trickles (a byte a
	// second keeps every per-read timeout happy) would otherwise hold a
	// build forever and never let the next mirror serve it.
	MinRate int64
	// Progress, when set, is called as package bytes arrive (and once with
	// Done == Total for a cache hit). Calls are serialized.
	Progress func(Progress)
	// Logger receives retries, failovers and replaced cache entries; nil
	// discards them.
	Logger *slog.Logger

	mu         sync.Mutex
	progressMu sync.Mutex
	origins    map[*Index]indexOrigin
	// deadMirrors are the mirrors that could not be reached, by origin
	// (see unreachable.go).
	deadMirrors map[string]*deadMirror

	defaultHTTPOnce sync.Once
	defaultHTTP     *http.Client // when HTTP is nil; see newDefaultHTTP

	cacheDirOnce sync.Once
	cacheDirPath string // CacheDir checked and resolved; see cacheDir
	cacheDirErr  error
}

// Progress reports a package download.
type Progress struct {
	Package string // name-version
	Done    int64  // bytes received (or verified, for a cache hit)
	Total   int64  // the package's size from its index record, or -1 if unknown
}

// indexOrigin is where an index returned by FetchIndex came from, so that
// FetchPackages knows where its packages live.
type indexOrigin struct {
	repo Repository
	arch string
}

// HostArch returns Alpine's name for the arch this program runs on, e.g.
// "x86_64" for amd64, or GOARCH itself when Alpine has no other name.
func HostArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "x86"
	case "arm":
		return "armv7"
	case "loong64":
		return "loongarch64"
	}
	return runtime.GOARCH
}

// arch is the client's arch, checked: it names a directory of the cache
// and of every repository URL.
func (c *Client) arch() (string, error) {
	if c.Arch == "" {
		return HostArch(), nil
	}
	return c.Arch, CheckArch(c.Arch)
}

// CheckArch refuses an arch that is not one plain name of letters,
// digits, "_" and "-" (as every Alpine arch is: x86_64, aarch64,
// loongarch64, ...). The arch becomes a directory of the cache and of
// repository URLs, so "../../x" would write an index outside the cache.
func CheckArch(arch string) error {
	ok := arch != ""
	for i := 0; i < len(arch); i++ {
		c := arch[i]
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-')
	}
	if !ok {
		return fmt.Errorf("arch %q: want letters, digits, _ and - only (e.g. x86_64, aarch64)", arch)
	}
	return nil
}

func (c *Client) keys(arch string) (*KeyRing, error) {
	if c.Keys != nil {
		return c.Keys, nil
	}
	keys, err := AlpineKeys(arch)
	if err != nil && c.AllowUntrusted {
		return NewKeyRing(), nil
	}
	return keys, err
}

// newDefaultHTTP returns the client a Client uses when HTTP is nil (see
// there). Each Client makes its own, once, so that its connections are
// pooled across its requests and nothing is shared between Clients.
func newDefaultHTTP() *http.Client {
	return &http.Client{
		CheckRedirect: checkRedirect,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialChecked, // redirect.go
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          32,
			MaxIdleConnsPerHost:   DefaultParallel * 2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		c.defaultHTTPOnce.Do(func() { c.defaultHTTP = newDefaultHTTP() })
		return c.defaultHTTP
	}
	hc := *c.HTTP
	hc.CheckRedirect = checkRedirect
	return &hc
}

// CheckCache makes the cache directory if it is missing and checks that
// no other user can change it (see cacheDir), so that a caller can refuse
// a shared cache once, before any work, instead of once per repository.
func (c *Client) CheckCache() error {
	_, err := c.cacheDir()
	return err
}

// cacheDir returns the cache directory, made if missing, once it is
// checked to be private to the user (see internal/privdir): the cache
// is trusted to hold what this user put there. The path returned is the
// one checked, with symlinks resolved. It is worked out on the first call
// (CacheDir does not change afterwards): every later call, one per package
// for IsCached, gets that answer instead of walking the directory and its
// ancestors again.
func (c *Client) cacheDir() (string, error) {
	c.cacheDirOnce.Do(func() {
		dir := c.CacheDir
		if dir == "" {
			d, err := os.UserCacheDir()
			if err != nil {
				c.cacheDirErr = fmt.Errorf("finding the cache directory (set one explicitly): %w", err)
				return
			}
			dir = filepath.Join(d, "rootfs-synth")
		}
		c.cacheDirPath, c.cacheDirErr = privdir.CheckRoot(dir)
	})
	return c.cacheDirPath, c.cacheDirErr
}

func (c *Client) parallel() int {
	if c.Parallel > 0 {
		return c.Parallel
	}
	return DefaultParallel
}

func (c *Client) retries() int {
	switch {
	case c.Retries < 0:
		return 0
	case c.Retries == 0:
		return DefaultRetries
	}
	return c.Retries
}

func (c *Client) retryDelay() time.Duration {
	if c.RetryDelay > 0 {
		return c.RetryDelay
	}
	return DefaultRetryDelay
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) minRate() int64 {
	switch {
	case c.MinRate < 0:
		return 0
	case c.MinRate == 0:
		return DefaultMinRate
	}
	return c.MinRate
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Client) progress(p Progress) {
	if c.Progress == nil {
		return
	}
	c.progressMu.Lock()
	defer c.progressMu.Unlock()
	c.Progress(p)
}

func (c *Client) remember(idx *Index, o indexOrigin) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.origins == nil {
		c.origins = make(map[*Index]indexOrigin)
	}
	c.origins[idx] = o
}

// origin returns where the packages of idx live: recorded by FetchIndex, or
// else derived from idx.Source when that is an APKINDEX.tar.gz URL.
func (c *Client) origin(idx *Index) (indexOrigin, error) {
	if idx == nil {
		return indexOrigin{}, errors.New("the package has no repository index")
	}
	c.mu.Lock()
	o, ok := c.origins[idx]
	c.mu.Unlock()
	if ok {
		return o, nil
	}
	dir, file := pathSplit(idx.Source)
	base, arch := pathSplit(dir)
	if file != indexFile || base == "" || CheckArch(arch) != nil {
		return indexOrigin{}, fmt.Errorf("unknown repository %q (fetch its index with this client)", idx.Source)
	}
	return indexOrigin{repo: Repository{URLs: []string{base}, Tag: idx.Tag}, arch: arch}, nil
}

func pathSplit(s string) (dir, file string) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+1:]
}

// MissingIndexError is FetchIndexes failing only because no mirror has
// the index of some repositories (each answered 404 or 410): a private
// mirror of main alone has no community. apk-tools warns and goes on
// when the world resolves without them; a caller may do the same with
// Indexes.
type MissingIndexError struct {
	Repositories []Repository // those without an index, in order
	Indexes      []*Index     // of the others, in order
	Err          error        // the fetches' errors, joined
}

func (e *MissingIndexError) Error() string { return e.Err.Error() }
func (e *MissingIndexError) Unwrap() error { return e.Err }

// missingIndexes is the *MissingIndexError of FetchIndexes' results when
// some failed and every failure is ErrNotFound, or nil.
func missingIndexes(repos []Repository, idxs []*Index, errs []error) *MissingIndexError {
	e := &MissingIndexError{}
	for i, err := range errs {
		switch {
		case err == nil:
			e.Indexes = append(e.Indexes, idxs[i])
		case errors.Is(err, ErrNotFound):
			e.Repositories = append(e.Repositories, repos[i])
		default:
			return nil
		}
	}
	if len(e.Repositories) == 0 {
		return nil
	}
	e.Err = errors.Join(errs...)
	return e
}

// failureClass names the cause of a failed fetch when it would fail the
// other repositories of a build in the same way, or is "".
func failureClass(err error) string {
	var (
		unknownKey *UnknownKeyError
		dead       *deadMirror
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &dead):
		return "unreachable " + dead.origin
	case errors.As(err, &unknownKey):
		return "unknown key " + strings.Join(unknownKey.Keys, " ")
	}
	return ""
}

// FetchIndexes fetches the indexes of repos concurrently and returns them in
// the same order (the order is the repositories' priority for Solve).
// When the only failures are indexes no mirror has, the error is a
// *MissingIndexError holding the others.
func (c *Client) FetchIndexes(ctx context.Context, repos []Repository) ([]*Index, error) {
	idxs := make([]*Index, len(repos))
	errs := make([]error, len(repos))
	var wg sync.WaitGroup
	for i, r := range repos {
		wg.Go(func() { idxs[i], errs[i] = c.FetchIndex(ctx, r) })
	}
	wg.Wait()
	if missing := missingIndexes(repos, idxs, errs); missing != nil {
		return nil, missing
	}
	var first error
	for _, e := range errs {
		if e == nil {
			continue
		}
		if first == nil {
			first = e
		}
		// An unreachable mirror, or a key not given, fails every
		// repository in the same words: one says it.
		if class := failureClass(e); class == "" || class != failureClass(first) {
			return nil, errors.Join(errs...)
		}
	}
	if first != nil {
		return nil, first
	}
	return idxs, nil
}
