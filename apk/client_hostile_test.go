package apk_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Hostile-mirror tests (issue 12): a mirror on 127.0.0.1 that trickles,
// sends without end or redirects where it should not. The helpers are in
// client_test.go.

// trickle answers with the whole Content-Length of the real response and
// then one byte every 50ms (20 bytes/s), until the client hangs up.
func trickle(w http.ResponseWriter, r *http.Request, next http.Handler) {
	b := body(next, r)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	for i := 0; i < len(b); i++ {
		if _, err := w.Write(b[i : i+1]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestFetchSlowLoris (defect 6): a mirror that keeps a transfer alive with
// a byte now and then is given up as too slow, for the index and for a
// package, and the next mirror serves it; with no other mirror the error
// is one line naming the URL.
func TestFetchSlowLoris(t *testing.T) {
	repo := newTestRepo(t)
	for _, what := range []string{"APKINDEX.tar.gz", ".apk"} {
		t.Run(what, func(t *testing.T) {
			slow := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				if !strings.HasSuffix(r.URL.Path, what) {
					return false
				}
				trickle(w, r, next)
				return true
			})
			good := serve(t, repo, nil)
			c := testClient(t, repo)
			c.Timeout = 300 * time.Millisecond // the window; 1 KiB/s (the default) wants 307 bytes in it
			// Far longer than the client should need; today's code hangs
			// until this ends it.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			start := time.Now()
			idx, err := c.FetchIndex(ctx, repoOf(repo.URL(slow.URL), repo.URL(good.URL)))
			if err != nil {
				t.Fatalf("FetchIndex past a slow mirror = %v after %v, want the good mirror's index", err, time.Since(start))
			}
			if _, err := c.FetchPackages(ctx, idx.Packages); err != nil {
				t.Fatalf("FetchPackages past a slow mirror = %v after %v, want the good mirror's packages", err, time.Since(start))
			}
			if slow.count(what) == 0 || good.count(what) == 0 {
				t.Errorf("requests for %s: slow mirror %d, good mirror %d, want both > 0", what, slow.count(what), good.count(what))
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("failing over took %v, want about a window (300ms) per slow request", el)
			}

			alone := testClient(t, repo)
			alone.Timeout = 300 * time.Millisecond
			alone.Retries = -1
			r := repoOf(repo.URL(slow.URL))
			idx, err = alone.FetchIndex(ctx, r)
			if err == nil {
				_, err = alone.FetchPackages(ctx, idx.Packages[:1])
			}
			if err == nil || !strings.Contains(err.Error(), slow.URL) || !strings.Contains(err.Error(), "too slow") ||
				strings.Contains(err.Error(), "\n") || ctx.Err() != nil {
				t.Fatalf("fetching from a single slow mirror = %v, want one line naming %s and saying too slow", err, slow.URL)
			}
			t.Logf("a single slow mirror: %v", err)
		})
	}
}

// allocated returns how many bytes f allocated on the heap (in all
// goroutines, so the test server's allocations count too).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

var sink []byte

// TestFetchIndexEndless (defect 11): an index body without end, shaped
// like an index (a gzip stream of a tar whose entries never stop, stored
// uncompressed so that it costs the server nothing), is cut at the
// client's bound without being held in memory, with one line naming the
// URL and the bound, and leaves nothing in the cache.
func TestFetchIndexEndless(t *testing.T) {
	repo := newTestRepo(t)
	srv := serve(t, repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.HasSuffix(r.URL.Path, "APKINDEX.tar.gz") {
			return false
		}
		zw, _ := gzip.NewWriterLevel(w, gzip.NoCompression)
		tw := tar.NewWriter(zw)
		junk := make([]byte, 1<<20)
		for r.Context().Err() == nil {
			if tw.WriteHeader(&tar.Header{Name: "junk", Mode: 0o644, Size: int64(len(junk))}) != nil {
				break
			}
			if _, err := tw.Write(junk); err != nil {
				break
			}
		}
		return true
	})
	// The gauge can say no: 64 MiB held is seen as at least that.
	if got := allocated(func() { sink = bytes.Repeat([]byte{1}, 64<<20) }); got < 64<<20 {
		t.Fatalf("allocating 64 MiB counted as %d bytes: the gauge is broken", got)
	}
	sink = nil

	c := testClient(t, repo)
	c.Retries = -1
	u := repo.URL(srv.URL) + "/x86_64/APKINDEX.tar.gz"
	var err error
	got := allocated(func() { _, err = c.FetchIndex(context.Background(), repoOf(repo.URL(srv.URL))) })
	if err == nil || !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), "64 MiB") || strings.Contains(err.Error(), "\n") {
		t.Errorf("FetchIndex(endless body) = %v, want one line naming %s and the bound of 64 MiB", err, u)
	}
	if got > 32<<20 {
		t.Errorf("FetchIndex(endless body) allocated %d MiB, want the body streamed (under 32 MiB)", got>>20)
	}
	t.Logf("endless index: %d KiB allocated; %v", got>>10, err)
	checkCache(t, c.CacheDir, nil)
}

// redirectTo answers every request for a path ending in suffix with a 302
// to target (with the request's path appended when target ends in "/").
func redirectTo(suffix, target string) fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.HasSuffix(r.URL.Path, suffix) {
			return false
		}
		to := target
		if strings.HasSuffix(to, "/") {
			to += strings.TrimPrefix(r.URL.Path, "/")
		}
		http.Redirect(w, r, to, http.StatusFound)
		return true
	}
}

// TestFetchRedirectToFile (defect 18): a redirect to file:///etc/passwd is
// refused once, naming where it pointed, and the next mirror serves.
func TestFetchRedirectToFile(t *testing.T) {
	repo := newTestRepo(t)
	evil := serve(t, repo, redirectTo("APKINDEX.tar.gz", "file:///etc/passwd"))
	c := testClient(t, repo) // Retries: 2
	_, err := c.FetchIndex(context.Background(), repoOf(repo.URL(evil.URL)))
	if err == nil || !strings.Contains(err.Error(), `redirect to "file:///etc/passwd" refused`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("FetchIndex(redirect to file:///etc/passwd) = %v, want one line saying the redirect to %q was refused", err, "file:///etc/passwd")
	}
	if got := evil.count("APKINDEX.tar.gz"); got != 1 {
		t.Errorf("index requests to the redirecting mirror = %d, want 1 (a refused redirect is not retried)", got)
	}
	good := serve(t, repo, nil)
	if _, err := c.FetchIndex(context.Background(), repoOf(repo.URL(evil.URL), repo.URL(good.URL))); err != nil {
		t.Errorf("FetchIndex(redirecting mirror, good mirror) = %v, want the good mirror's index", err)
	}
	checkCache(t, c.CacheDir, nil)
}

// TestFetchRedirectLoopback (defect 18): a mirror on this machine may
// redirect to another port on this machine.
func TestFetchRedirectLoopback(t *testing.T) {
	repo := newTestRepo(t)
	good := serve(t, repo, nil)
	moved := serve(t, repo, redirectTo("", good.URL+"/"))
	c := testClient(t, repo)
	pkgs, _, err := fetchAll(t, c, repoOf(repo.URL(moved.URL)))
	if err != nil {
		t.Fatalf("fetching through a redirect from %s to %s: %v", moved.URL, good.URL, err)
	}
	if good.count(".apk") != len(pkgs) {
		t.Errorf("packages served by the redirect's target = %d, want %d", good.count(".apk"), len(pkgs))
	}
	checkCache(t, c.CacheDir, pkgs, names(pkgs)...)
}
