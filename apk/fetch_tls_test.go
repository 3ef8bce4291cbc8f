package apk_test

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFetchHTTPS fetches over TLS from a mirror whose certificate the
// client trusts, and refuses one it does not trust, naming the mirror and
// leaving nothing in the cache.
func TestFetchHTTPS(t *testing.T) {
	repo := newTestRepo(t)
	srv := httptest.NewUnstartedServer(repo.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()

	c := testClient(t, repo)
	c.HTTP = srv.Client() // trusts the test server's certificate
	pkgs, _, err := fetchAll(t, c, repoOf(repo.URL(srv.URL)))
	if err != nil {
		t.Fatalf("fetching over https: %v", err)
	}
	checkCache(t, c.CacheDir, pkgs, names(pkgs)...)

	untrusting := testClient(t, repo) // the default client: system roots only
	_, _, err = fetchAll(t, untrusting, repoOf(repo.URL(srv.URL)))
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("fetching from an untrusted https mirror = %v, want a certificate error naming %s", err, srv.URL)
	}
	checkCache(t, untrusting.CacheDir, nil)
}
