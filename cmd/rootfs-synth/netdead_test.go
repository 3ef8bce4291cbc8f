//go:build linux

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// deadMirrors are two ways a mirror on 127.0.0.1 fails at the connection
// level: nothing listens on its port, or it closes every connection
// without a response.
func deadMirrors(t *testing.T) map[string]string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := "http://" + l.Addr().String()
	l.Close()
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	return map[string]string{"closed port": closedPort, "hangs up": hangUp.URL}
}

// TestDeadMirrorSaidOnce (issue 16, the frictions): a build whose first
// mirror cannot be reached, with a second that works, says so in one
// warning line naming the mirror, however many packages it fetches, and
// builds; with no other mirror, it fails with one line that says what
// failed and what to try.
func TestDeadMirrorSaidOnce(t *testing.T) {
	var extra []apktest.Pkg
	atoms := []string{"--profile", "none", "-p", "app"}
	for i := range 12 {
		name := fmt.Sprintf("p%02d", i)
		extra = append(extra, apktest.Pkg{Name: name, Version: "1-r0", Files: []apktest.File{{Name: "etc/" + name, Data: []byte(name)}}})
		atoms = append(atoms, "-p", name)
	}
	m := newMirror(t, extra...)
	build := func(t *testing.T, mirrors ...string) (string, int) {
		args := m.keyFlags()
		for _, u := range mirrors {
			args = append(args, "--mirror", u)
		}
		// A cache of its own, so that every package is fetched.
		dir := testenv.WorldDir(t)
		args = append(args, "--cache-dir", filepath.Join(dir, "cache"), "-o", filepath.Join(dir, "img.ext4"))
		args = append(args, atoms...)
		_, stderr, code := runCmd(t, m.command(t, nil, args...))
		return stderr, code
	}
	baseline, code := build(t, m.srv.URL)
	if code != 0 {
		t.Fatalf("build from the working mirror alone = exit %d, stderr:\n%s", code, baseline)
	}
	for kind, dead := range deadMirrors(t) {
		t.Run(kind, func(t *testing.T) {
			stderr, code := build(t, dead, m.srv.URL)
			lines := strings.Count(stderr, "\n")
			want := strings.Count(baseline, "\n") + 1
			if code != 0 || lines != want || strings.Count(stderr, dead) != 1 {
				t.Errorf("build from a mirror that %s, then a working one = exit %d, %d stderr lines, want exit 0 and %d (one more than from the working mirror alone, naming %q once)\nstderr:\n%s",
					kind, code, lines, want, dead, stderr)
			}

			stderr, code = build(t, dead)
			if code != 1 || strings.Count(stderr, "\n") != countPhaseLines(stderr)+1 || len(stderr) > 400 ||
				!strings.Contains(stderr, strconv.Quote(dead)) || !strings.Contains(stderr, "--mirror") ||
				!strings.Contains(stderr, "--offline") || !strings.Contains(stderr, "rootfs-synth fetch") {
				t.Errorf("build from a mirror that %s alone = exit %d, stderr (%d bytes):\n%s\nwant exit 1 and one line under 400 bytes naming %q and suggesting --mirror, or --offline after rootfs-synth fetch",
					kind, code, len(stderr), stderr, dead)
			}
		})
	}
}

// countPhaseLines counts the lines a build prints as its phases begin
// (when stderr is not a terminal), which are not about the failure.
func countPhaseLines(stderr string) int {
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		if l != "" && !strings.HasPrefix(l, "rootfs-synth: ") && !strings.Contains(l, "level=") {
			n++
		}
	}
	return n
}
