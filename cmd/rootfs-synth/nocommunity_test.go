//go:build linux

package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestMirrorWithoutCommunity (issue 16, the frictions): a private mirror
// of main only (no community index for the branch) builds a world that
// main satisfies, with one warning line naming the missing repository,
// as apk-tools does; a world that needs community fails with one line
// that says its index was missing.
func TestMirrorWithoutCommunity(t *testing.T) {
	m := newMirror(t)
	mainOnly := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v3.23/community/") {
			http.NotFound(w, r)
			return
		}
		m.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer mainOnly.Close()
	community := mainOnly.URL + "/v3.23/community"
	build := func(pkg string) (string, int) {
		args := append(m.keyFlags(), "--mirror", mainOnly.URL, "-o", filepath.Join(testenv.WorldDir(t), "img.ext4"), "--profile", "none", "-p", pkg)
		_, stderr, code := runCmd(t, m.command(t, nil, args...))
		return stderr, code
	}
	stderr, code := build("app")
	warnings := strings.Count(stderr, "level=WARN")
	if code != 0 || warnings != 1 || strings.Count(stderr, community) != 1 || strings.Count(stderr, "\n") != countPhaseLines(stderr)+1 {
		t.Errorf("build of app (in main) from a mirror without community = exit %d, %d warnings, stderr:\n%s\nwant exit 0 and one warning naming %s",
			code, warnings, stderr, community)
	}
	stderr, code = build("extra")
	if code != 1 || strings.Count(stderr, "rootfs-synth: ") != 1 || !strings.Contains(stderr, community) ||
		!strings.Contains(stderr, `"extra"`) || !strings.Contains(stderr, "not found") {
		t.Errorf("build of extra (in community) from a mirror without community = exit %d, stderr:\n%s\nwant exit 1 and one line naming \"extra\" and saying the index of %s was not found",
			code, stderr, community)
	}
}
