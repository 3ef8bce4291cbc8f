package apk_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// Fault tests: mirrors that fail, stall, cut connections or serve the
// wrong bytes. The helpers are in client_test.go.

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
	// The directory may exist (the body streams into a temporary file
	// there); no index may.
	if cached, _ := filepath.Glob(filepath.Join(c.CacheDir, "indexes", "*", "*", "APKINDEX*")); len(cached) > 0 {
		t.Errorf("the refused index was cached: %v", cached)
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

// TestFetchSkipsUnreachableMirror (issue 16): a first mirror that hangs up
// without a response is asked once, for the index; every package then
// comes from the second without asking it again, and the client says so
// in one warning.
func TestFetchSkipsUnreachableMirror(t *testing.T) {
	repo := newTestRepo(t)
	hangUp := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return true
	})
	good := serve(t, repo, nil)
	c := testClient(t, repo)
	var log strings.Builder
	c.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pkgs, _, err := fetchAll(t, c, repoOf(repo.URL(hangUp.URL), repo.URL(good.URL)))
	if err != nil {
		t.Fatalf("fetching with a first mirror that hangs up: %v", err)
	}
	if len(pkgs) < 2 {
		t.Fatalf("the test repository has %d packages, want several", len(pkgs))
	}
	// The HTTP client asks again once on a connection that closed
	// without a response, so one index request may be two.
	if got := hangUp.count(".apk"); got != 0 {
		t.Errorf("package requests to the mirror that hangs up = %d, want 0 (it failed the index already)", got)
	}
	if got := strings.Count(log.String(), "\n"); got != 1 || !strings.Contains(log.String(), hangUp.URL) {
		t.Errorf("log = %q, want one line naming %s", log.String(), hangUp.URL)
	}
}

// TestFetchIndexesUnreachableOnce (issue 16): the repositories of one
// unreachable mirror fail in one error naming it once; those of two
// unreachable mirrors name both.
func TestFetchIndexesUnreachableOnce(t *testing.T) {
	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String()
	}
	a, b := closedPort(), closedPort()
	c := testClient(t, newTestRepo(t))
	for _, tt := range []struct {
		repos []apk.Repository
		want  map[string]int
	}{
		{[]apk.Repository{repoOf(a + "/v3.23/main"), repoOf(a + "/v3.23/community")}, map[string]int{a: 1}},
		{[]apk.Repository{repoOf(a + "/v3.23/main"), repoOf(b + "/v3.23/main")}, map[string]int{a: 1, b: 1}},
	} {
		_, err := c.FetchIndexes(context.Background(), tt.repos)
		if !errors.Is(err, apk.ErrUnreachable) {
			t.Fatalf("FetchIndexes(%v) = %v, want an error matching ErrUnreachable", tt.repos, err)
		}
		for origin, n := range tt.want {
			if got := strings.Count(err.Error(), `"`+origin+`"`); got != n {
				t.Errorf("FetchIndexes(%v) = %q, names %q %d times, want %d", tt.repos, err, origin, got, n)
			}
		}
	}
}
