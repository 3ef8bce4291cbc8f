package apk_test

import (
	"context"
	"net/http"
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
