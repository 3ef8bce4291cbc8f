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

var testKey = sync.OnceValues(func() (*apktest.Key, error) { return apktest.NewKey("") })

// newTestRepo builds a small signed repository: three packages of a few to
// a few hundred KB with some real file structure.
func newTestRepo(t testing.TB) *apktest.Repo {
	t.Helper()
	key, err := testKey()
	if err != nil {
		t.Fatal(err)
	}
	repo := apktest.NewRepo(key)
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

func TestFetchFailover(t *testing.T) {
	repo := newTestRepo(t)
	broken := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		http.Error(w, "down", http.StatusInternalServerError)
		return true
	})
	good := serve(t, repo, nil)
	c := testClient(t, repo)
	pkgs, _, err := fetchAll(t, c, repoOf(repo.URL(broken.URL), repo.URL(good.URL)))
	if err != nil {
		t.Fatalf("fetching with a broken first mirror: %v", err)
	}
	// Each file: one try on the broken mirror, then the good one.
	if got, want := broken.count(""), 1+len(pkgs); got != want {
		t.Errorf("requests to the broken mirror = %d, want %d", got, want)
	}
	checkCache(t, c.CacheDir, pkgs, names(pkgs)...)
}

func TestFetchRetriesThenFails(t *testing.T) {
	repo := newTestRepo(t)
	good := serve(t, repo, nil)
	var fail atomic.Bool
	m1 := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if fail.Load() {
			http.Error(w, "down", http.StatusBadGateway)
		}
		return fail.Load()
	})
	m2 := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	c := testClient(t, repo)
	r := repoOf(repo.URL(m1.URL), repo.URL(m2.URL))
	idx, err := c.FetchIndex(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	_, err = c.FetchPackages(context.Background(), idx.Packages[:1])
	if err == nil {
		t.Fatal("FetchPackages with every mirror failing = nil error")
	}
	p := idx.Packages[0]
	for _, want := range []string{"fetching " + p.Name + "-" + p.Version, "3 attempts", "502 Bad Gateway", "503 Service Unavailable", m1.URL, m2.URL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("FetchPackages() error = %q, want it to contain %q", err, want)
		}
	}
	if got := m1.count(".apk"); got != 3 {
		t.Errorf("requests to mirror 1 = %d, want 3 (1 + Retries)", got)
	}
	checkCache(t, c.CacheDir, idx.Packages)
	_ = good
}

func TestFetchNotFound(t *testing.T) {
	repo := newTestRepo(t)
	missing := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if strings.HasSuffix(r.URL.Path, ".apk") {
			http.NotFound(w, r)
			return true
		}
		return false
	}
	m1, m2 := serve(t, repo, missing), serve(t, repo, missing)
	c := testClient(t, repo)
	_, _, err := fetchAll(t, c, repoOf(repo.URL(m1.URL), repo.URL(m2.URL)))
	if err == nil || !strings.Contains(err.Error(), "not found on any mirror: "+repo.URL(m1.URL)) ||
		!strings.Contains(err.Error(), repo.URL(m2.URL)) {
		t.Errorf("fetching packages every mirror lacks = %v, want not found on any mirror naming both", err)
	}
	if got := m1.count(".apk"); got > 3 {
		t.Errorf("requests for missing packages = %d, want no retries (at most one per package)", got)
	}
	nothing := serve(t, repo, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool { http.NotFound(w, r); return true })
	_, err = c.FetchIndex(context.Background(), repoOf(nothing.URL+"/v3.23/nothing"))
	if err == nil || !strings.Contains(err.Error(), "not found on any mirror: "+nothing.URL+"/v3.23/nothing/x86_64/APKINDEX.tar.gz") {
		t.Errorf("FetchIndex(missing repository) = %v, want not found naming the URL", err)
	}
}

// TestFetchConnectionReset cuts the connection in the middle of a package:
// the client retries and succeeds, or, when every try is cut, fails
// without leaving anything in the cache.
func TestFetchConnectionReset(t *testing.T) {
	repo := newTestRepo(t)
	var cuts atomic.Int32
	var always atomic.Bool
	srv := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/gamma-") || (!always.Load() && cuts.Load() > 0) {
			return false
		}
		cuts.Add(1)
		cutConnection(w, body(next, r))
		return true
	})
	c := testClient(t, repo)
	pkgs, _, err := fetchAll(t, c, repoOf(repo.URL(srv.URL)))
	if err != nil || cuts.Load() != 1 {
		t.Fatalf("fetching with one cut connection = %v after %d cuts, want success after 1", err, cuts.Load())
	}
	checkCache(t, c.CacheDir, pkgs, names(pkgs)...)

	always.Store(true)
	c2 := testClient(t, repo)
	idx, err := c2.FetchIndex(context.Background(), repoOf(repo.URL(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.FetchPackages(context.Background(), idx.Packages[2:])
	if err == nil || !strings.Contains(err.Error(), "fetching gamma-1.2-r0 (3 attempts per mirror)") {
		t.Fatalf("fetching with every connection cut = %v, want an error naming gamma-1.2-r0 after 3 attempts", err)
	}
	checkCache(t, c2.CacheDir, pkgs)
}

// TestFetchStall: a mirror that stops sending in the middle of a package
// is given up after Timeout and the next mirror used.
func TestFetchStall(t *testing.T) {
	repo := newTestRepo(t)
	stalled := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.HasSuffix(r.URL.Path, ".apk") {
			return false
		}
		b := body(next, r)
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // until the client gives up
		return true
	})
	good := serve(t, repo, nil)
	c := testClient(t, repo)
	c.Timeout = 200 * time.Millisecond
	pkgs, _, err := fetchAll(t, c, repoOf(repo.URL(stalled.URL), repo.URL(good.URL)))
	if err != nil {
		t.Fatalf("fetching past a stalled mirror: %v", err)
	}
	if stalled.count(".apk") == 0 || good.count(".apk") != len(pkgs) {
		t.Errorf("package requests: stalled mirror %d, good mirror %d, want >0 and %d", stalled.count(".apk"), good.count(".apk"), len(pkgs))
	}
	checkCache(t, c.CacheDir, pkgs, names(pkgs)...)
}

// TestFetchTamperedPackage: a mirror serving other bytes than the index
// describes is refused, naming the package, and nothing is cached.
func TestFetchTamperedPackage(t *testing.T) {
	repo := newTestRepo(t)
	gamma := repo.Packages[2].Data
	tests := []struct {
		name    string
		tamper  func(b []byte) []byte
		wantErr string
	}{
		{"data byte flipped", func(b []byte) []byte { b[len(b)*3/4] ^= 0x40; return b }, "datahash"},
		{"another package", func([]byte) []byte { return slices.Clone(gamma) }, "control member has checksum"},
		{"same size, other control", func(b []byte) []byte {
			return append(slices.Clone(gamma[:len(b)/2]), b[len(b)/2:]...)
		}, "the index says"},
		{"junk appended", func(b []byte) []byte { return append(b, "junk"...) }, "bytes or more, the index says"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }, "the index says"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				if !strings.Contains(r.URL.Path, "/beta-") {
					return false
				}
				w.Write(tt.tamper(body(next, r)))
				return true
			})
			c := testClient(t, repo)
			idx, err := c.FetchIndex(context.Background(), repoOf(repo.URL(srv.URL)))
			if err != nil {
				t.Fatal(err)
			}
			beta := idx.Packages[1]
			_, err = c.FetchPackages(context.Background(), []*apk.Package{beta})
			if err == nil || !strings.Contains(err.Error(), "fetching beta-1.1-r0") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("fetching a tampered package = %v, want an error naming beta-1.1-r0 and containing %q", err, tt.wantErr)
			}
			if got := srv.count("/beta-1.1-r0.apk"); got != 1 {
				t.Errorf("requests for the tampered package = %d, want 1 (bad content is not retried)", got)
			}
			checkCache(t, c.CacheDir, idx.Packages)
		})
	}
}

// TestFetchIndexWrongKey: an index signed by a key the client does not
// trust is refused, naming the repository and the key, unless
// AllowUntrusted.
func TestFetchIndexWrongKey(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, nil)
	other, err := apktest.NewKey("other")
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t, repo)
	c.Keys = other.KeyRing()
	r := repoOf(repo.URL(srv.URL))
	_, err = c.FetchIndex(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), repo.URL(srv.URL)) || !strings.Contains(err.Error(), repo.Key.Name) {
		t.Fatalf("FetchIndex(signed by %s, trusting %s) = %v, want an error naming the repository and %s", repo.Key.Name, other.Name, err, repo.Key.Name)
	}
	if srv.count("APKINDEX.tar.gz") != 1 {
		t.Errorf("index requests = %d, want 1 (a bad signature is not retried)", srv.count("APKINDEX.tar.gz"))
	}
	checkCache(t, c.CacheDir, nil)
	if _, err := os.Stat(filepath.Join(c.CacheDir, "indexes")); err == nil {
		t.Errorf("the refused index was cached")
	}
	c.AllowUntrusted = true
	idx, err := c.FetchIndex(context.Background(), r)
	if err != nil || idx.Trusted {
		t.Fatalf("FetchIndex(AllowUntrusted) = %v (trusted %v), want an untrusted index", err, idx != nil && idx.Trusted)
	}
	// Packages of an untrusted index are still checked against its records.
	if _, err := c.FetchPackages(context.Background(), idx.Packages); err != nil {
		t.Fatal(err)
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
