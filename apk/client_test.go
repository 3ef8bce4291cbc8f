package apk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// These tests fetch real signed repositories built by apktest, served over
// httptest on 127.0.0.1 through handlers that inject faults.

// newTestRepo builds a small signed repository: three packages of a few to
// a few hundred KB with some real file structure.
func newTestRepo(t testing.TB) *apktest.Repo {
	t.Helper()
	repo := apktest.NewRepo(pkgKey(t))
	for i, name := range []string{"alpha", "beta", "gamma"} {
		_, err := repo.Add(apktest.Pkg{
			Name:    name,
			Version: fmt.Sprintf("1.%d-r0", i),
			Files: []apktest.File{
				{Name: "usr/share/" + name + "/data", Data: pseudoRandom(name, 20000<<i)},
				{Name: "usr/share/" + name + "/text", Data: bytes.Repeat([]byte(name+" text\n"), 1000)},
				{Name: "usr/bin/" + name, Linkname: "../share/" + name + "/data"},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

// pseudoRandom returns n incompressible but reproducible bytes.
func pseudoRandom(seed string, n int) []byte {
	b := make([]byte, n)
	x := uint64(len(seed)) * 0x9e3779b97f4a7c15
	for _, c := range seed {
		x = x*31 + uint64(c)
	}
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// server serves a repository through an optional fault, counting requests.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // paths, in order
}

// fault handles a request itself (and returns true) or leaves it to the
// repository (false). next serves the real response.
type fault func(w http.ResponseWriter, r *http.Request, next http.Handler) bool

func serve(t testing.TB, repo *apktest.Repo, f fault) *server {
	t.Helper()
	s := &server{}
	h := repo.Handler()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.Path)
		s.mu.Unlock()
		if f == nil || !f(w, r, h) {
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count(suffix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.requests {
		if strings.HasSuffix(p, suffix) {
			n++
		}
	}
	return n
}

// body returns what next serves for r.
func body(next http.Handler, r *http.Request) []byte {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec.Body.Bytes()
}

// cutConnection sends the headers and the first half of b, then resets the
// connection.
func cutConnection(w http.ResponseWriter, b []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n", len(b))
	buf.Write(b[:len(b)/2])
	buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with RST
	}
	conn.Close()
}

func testClient(t testing.TB, repo *apktest.Repo) *apk.Client {
	return &apk.Client{
		CacheDir:   t.TempDir(),
		Keys:       repo.Key.KeyRing(),
		Arch:       "x86_64",
		Retries:    2,
		RetryDelay: time.Millisecond,
		Timeout:    5 * time.Second,
	}
}

func repoOf(urls ...string) apk.Repository { return apk.Repository{URLs: urls} }

// fetchAll fetches the index of r and every package in it.
func fetchAll(t testing.TB, c *apk.Client, r apk.Repository) ([]*apk.Package, []string, error) {
	t.Helper()
	idx, err := c.FetchIndex(context.Background(), r)
	if err != nil {
		return nil, nil, err
	}
	pkgs := slices.Clone(idx.Packages)
	slices.SortFunc(pkgs, func(a, b *apk.Package) int { return strings.Compare(a.Name, b.Name) })
	paths, err := c.FetchPackages(context.Background(), pkgs)
	return pkgs, paths, err
}

// checkCache fails unless the cache holds only whole, verified files: no
// temporary file, every package verifying against its index record, and
// exactly the packages named by want (by name-version).
func checkCache(t testing.TB, dir string, pkgs []*apk.Package, want ...string) {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(d.Name(), ".tmp") {
			t.Errorf("cache holds a temporary file %s", path)
		}
		if filepath.Ext(path) != ".apk" {
			return nil
		}
		for _, p := range pkgs {
			if strings.HasPrefix(d.Name(), p.Name+"-"+p.Version+".") {
				got = append(got, p.Name+"-"+p.Version)
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				if _, err := apk.VerifyPackage(f, p); err != nil {
					t.Errorf("cached %s does not verify: %v", path, err)
				}
				return nil
			}
		}
		t.Errorf("cache holds an unknown package %s", path)
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("cached packages = %v, want %v", got, want)
	}
}

func names(pkgs []*apk.Package) []string {
	var s []string
	for _, p := range pkgs {
		s = append(s, p.Name+"-"+p.Version)
	}
	return s
}

func TestFetch(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, nil)
	c := testClient(t, repo)
	var mu sync.Mutex
	last := map[string]apk.Progress{}
	c.Progress = func(p apk.Progress) {
		mu.Lock()
		last[p.Package] = p
		mu.Unlock()
	}
	pkgs, paths, err := fetchAll(t, c, repoOf(repo.URL(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(pkgs), []string{"alpha-1.0-r0", "beta-1.1-r0", "gamma-1.2-r0"}; !slices.Equal(got, want) {
		t.Fatalf("index packages = %v, want %v", got, want)
	}
	for i, p := range pkgs {
		served := body(repo.Handler(), httptest.NewRequest("GET", "/"+repo.Branch+"/"+repo.Name+"/x86_64/"+p.Name+"-"+p.Version+".apk", nil))
		cached, err := os.ReadFile(paths[i])
		if err != nil || !bytes.Equal(cached, served) {
			t.Errorf("FetchPackages()[%d] = %s holding %d bytes (%v), want the %d served bytes of %s", i, paths[i], len(cached), err, len(served), p.Name)
		}
		if pr := last[names(pkgs)[i]]; pr.Done != p.Size || pr.Total != p.Size {
			t.Errorf("last progress of %s = %+v, want Done = Total = %d", p.Name, pr, p.Size)
		}
	}
	checkCache(t, c.CacheDir, pkgs, names(pkgs)...)

	// A second fetch of everything needs only a conditional index request.
	before := len(srv.requests)
	if _, _, err := fetchAll(t, c, repoOf(repo.URL(srv.URL))); err != nil {
		t.Fatal(err)
	}
	if got := srv.requests[before:]; len(got) != 1 || !strings.HasSuffix(got[0], "/APKINDEX.tar.gz") {
		t.Errorf("requests of a warm fetch = %v, want one index request", got)
	}
}

// TestFetchIndexConditional proves the cached index is reused on a 304 and
// replaced when the mirror's copy changes.
func TestFetchIndexConditional(t *testing.T) {
	repo := newTestRepo(t)
	var etag atomic.Value
	etag.Store(`"one"`)
	var notModified atomic.Int32
	srv := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.HasSuffix(r.URL.Path, "/APKINDEX.tar.gz") {
			return false
		}
		if r.Header.Get("If-None-Match") == etag.Load().(string) {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return true
		}
		w.Header().Set("ETag", etag.Load().(string))
		return false
	})
	c := testClient(t, repo)
	r := repoOf(repo.URL(srv.URL))
	for i, want := range []struct {
		packages    int
		notModified int32
	}{{3, 0}, {3, 1}, {4, 1}, {4, 2}} {
		if i == 2 {
			if _, err := repo.Add(apktest.Pkg{Name: "delta", Version: "2-r0"}); err != nil {
				t.Fatal(err)
			}
			etag.Store(`"two"`)
		}
		idx, err := c.FetchIndex(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if len(idx.Packages) != want.packages || notModified.Load() != want.notModified || !idx.Trusted {
			t.Errorf("FetchIndex #%d = %d packages after %d 304s (trusted %v), want %d after %d (trusted)",
				i+1, len(idx.Packages), notModified.Load(), idx.Trusted, want.packages, want.notModified)
		}
	}
}

// TestFetchLocalRepository fetches from a mirror laid out on disk, given
// as a directory and as a file:// URL, also offline.
func TestFetchLocalRepository(t *testing.T) {
	repo := newTestRepo(t)
	base := t.TempDir()
	if err := repo.WriteDir(base); err != nil {
		t.Fatal(err)
	}
	dir := repo.URL(base)
	for _, loc := range []string{dir, "file://" + dir} {
		for _, offline := range []bool{false, true} {
			r, err := apk.ParseRepository(loc)
			if err != nil {
				t.Fatal(err)
			}
			c := testClient(t, repo)
			c.Offline = offline
			pkgs, paths, err := fetchAll(t, c, r)
			if err != nil || len(paths) != 3 {
				t.Fatalf("fetching from %s (offline %v) = %d paths, %v, want 3", loc, offline, len(paths), err)
			}
			checkCache(t, c.CacheDir, pkgs, names(pkgs)...)
		}
	}
}

func TestFetchOffline(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, nil)
	c := testClient(t, repo)
	r := repoOf(repo.URL(srv.URL))

	c.Offline = true
	_, err := c.FetchIndex(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "offline") || !strings.Contains(err.Error(), repo.URL(srv.URL)) {
		t.Errorf("FetchIndex(offline, cold cache) = %v, want an error naming the repository", err)
	}
	c.Offline = false
	pkgs, paths, err := fetchAll(t, c, r)
	if err != nil {
		t.Fatal(err)
	}
	before := len(srv.requests)

	c.Offline = true
	warm := testClient(t, repo)
	warm.CacheDir, warm.Offline = c.CacheDir, true
	_, offPaths, err := fetchAll(t, warm, r)
	if err != nil || !slices.Equal(offPaths, paths) {
		t.Fatalf("fetching offline from a warm cache = %v, %v, want %v", offPaths, err, paths)
	}
	if len(srv.requests) != before {
		t.Errorf("offline fetch made %d requests, want none", len(srv.requests)-before)
	}

	// Offline, every missing package is named, a corrupt one too.
	os.Remove(paths[0])
	corrupt(t, paths[2])
	idx, err := warm.FetchIndex(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = warm.FetchPackages(context.Background(), idx.Packages)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 packages") ||
		!strings.Contains(err.Error(), names(pkgs)[0]) || !strings.Contains(err.Error(), names(pkgs)[2]) {
		t.Errorf("FetchPackages(offline, 2 missing) = %v, want an error naming %s and %s", err, names(pkgs)[0], names(pkgs)[2])
	}
	if len(srv.requests) != before {
		t.Errorf("offline fetch made %d requests, want none", len(srv.requests)-before)
	}
}

// corrupt flips one byte in the middle of a file.
func corrupt(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFetchReplacesCorruptCacheEntry(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, nil)
	c := testClient(t, repo)
	r := repoOf(repo.URL(srv.URL))
	pkgs, paths, err := fetchAll(t, c, r)
	if err != nil {
		t.Fatal(err)
	}
	corrupt(t, paths[1])
	// A truncated file too.
	if err := os.Truncate(paths[2], 100); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fetchAll(t, c, r); err != nil {
		t.Fatal(err)
	}
	for i, p := range pkgs {
		want := 1
		if i > 0 {
			want = 2
		}
		if got := srv.count("/" + p.Name + "-" + p.Version + ".apk"); got != want {
			t.Errorf("downloads of %s = %d, want %d", p.Name, got, want)
		}
	}
	checkCache(t, c.CacheDir, pkgs, names(pkgs)...)
}

// TestFetchSharedCache runs two clients (as two builds would) over one
// cache directory at the same time; run with -race.
func TestFetchSharedCache(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, nil)
	dir := t.TempDir()
	r := repoOf(repo.URL(srv.URL))
	var wg sync.WaitGroup
	results := make([][]string, 4)
	errs := make([]error, 4)
	for i := range results {
		c := testClient(t, repo)
		c.CacheDir = dir
		wg.Go(func() { _, results[i], errs[i] = fetchAll(t, c, r) })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || !slices.Equal(results[i], results[0]) {
			t.Errorf("client %d = %v, %v, want %v", i, results[i], errs[i], results[0])
		}
	}
	idx, err := testClient(t, repo).FetchIndex(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	checkCache(t, dir, idx.Packages, names(idx.Packages)...)
}

func TestFetchPackagesCancel(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if strings.HasSuffix(r.URL.Path, ".apk") {
			<-r.Context().Done()
			return true
		}
		return false
	})
	c := testClient(t, repo)
	idx, err := c.FetchIndex(context.Background(), repoOf(repo.URL(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.FetchPackages(ctx, idx.Packages)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FetchPackages(cancelled) = %v, want context.DeadlineExceeded", err)
	}
	checkCache(t, c.CacheDir, idx.Packages)
}

// TestFetchSweepsStaleTemps: temporary files that a killed process left
// behind are removed once they are old; fresh ones (another process may be
// writing them) stay.
func TestFetchSweepsStaleTemps(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, nil)
	c := testClient(t, repo)
	dir := filepath.Join(c.CacheDir, "packages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(dir, ".x.apk.tmp123"), filepath.Join(dir, ".y.apk.tmp456")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fetchAll(t, c, repoOf(repo.URL(srv.URL))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file after a fetch: %v, want it removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file after a fetch: %v, want it kept", err)
	}
}

// TestFetchSharedCacheProcesses runs three processes (this test binary
// again, as a child) that fetch the same packages into one cache at once.
func TestFetchSharedCacheProcesses(t *testing.T) {
	if cache := os.Getenv("ROOTFS_SYNTH_FETCH_CHILD_CACHE"); cache != "" {
		keys := apk.NewKeyRing()
		if err := keys.AddDir(os.Getenv("ROOTFS_SYNTH_FETCH_CHILD_KEYS")); err != nil {
			t.Fatal(err)
		}
		c := &apk.Client{CacheDir: cache, Keys: keys, Arch: "x86_64"}
		if _, _, err := fetchAll(t, c, repoOf(os.Getenv("ROOTFS_SYNTH_FETCH_CHILD_REPO"))); err != nil {
			t.Fatal(err)
		}
		return
	}
	repo := newTestRepo(t)
	srv := serve(t, repo, nil)
	keys, cache := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(keys, repo.Key.Name), repo.Key.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFetchSharedCacheProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ROOTFS_SYNTH_FETCH_CHILD_CACHE="+cache,
			"ROOTFS_SYNTH_FETCH_CHILD_KEYS="+keys, "ROOTFS_SYNTH_FETCH_CHILD_REPO="+repo.URL(srv.URL))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child output:\n%s", out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
	idx, err := testClient(t, repo).FetchIndex(context.Background(), repoOf(repo.URL(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	checkCache(t, cache, idx.Packages, names(idx.Packages)...)
	if got := srv.count(".apk"); got < len(idx.Packages) || got > 3*len(idx.Packages) {
		t.Errorf("package requests = %d, want between %d and %d", got, len(idx.Packages), 3*len(idx.Packages))
	}
}

// TestFetchPackagesOfAnotherClient: packages whose index another client
// fetched are found through the index's Source URL; an index from
// elsewhere is refused by name.
func TestFetchPackagesOfAnotherClient(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, nil)
	idx, err := testClient(t, repo).FetchIndex(context.Background(), repoOf(repo.URL(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t, repo)
	if _, err := c.FetchPackages(context.Background(), idx.Packages); err != nil {
		t.Fatalf("FetchPackages(index of another client) = %v", err)
	}
	checkCache(t, c.CacheDir, idx.Packages, names(idx.Packages)...)

	local := &apk.Index{Source: "built-in"}
	p := *idx.Packages[0]
	p.Repository = local
	_, err = c.FetchPackages(context.Background(), []*apk.Package{&p})
	if err == nil || !strings.Contains(err.Error(), `unknown repository "built-in"`) {
		t.Errorf("FetchPackages(package of an unknown index) = %v, want an error naming it", err)
	}
}
