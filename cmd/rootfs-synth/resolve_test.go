package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// resolveRepos builds two signed repositories served over httptest: main
// (app → lib → base, and a conflict) and a tagged "edge" one.
func resolveRepos(t *testing.T) (key *apktest.Key, main, edge *apktest.Repo, srvMain, srvEdge *httptest.Server, requests *atomic.Int64) {
	t.Helper()
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	main = apktest.NewRepo(key)
	for _, p := range []apktest.Pkg{
		{Name: "base", Version: "1.0-r0", Files: []apktest.File{{Name: "etc/base", Data: []byte("base\n")}}},
		{Name: "lib", Version: "2.1-r3", Depends: []string{"base"}, Provides: []string{"so:libx.so.2=2.1"},
			Files: []apktest.File{{Name: "usr/lib/libx.so.2", Data: bytes.Repeat([]byte("x"), 5000)}}},
		{Name: "app", Version: "0.9-r0", Depends: []string{"so:libx.so.2"},
			Files: []apktest.File{{Name: "usr/bin/app", Mode: 0o755, Data: []byte("#!/bin/sh\n")}}},
		{Name: "conflicting", Version: "1-r0", Depends: []string{"!base"}},
	} {
		if _, err := main.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	edge = apktest.NewRepo(key)
	edge.Branch, edge.Name = "edge", "testing"
	if _, err := edge.Add(apktest.Pkg{Name: "shiny", Version: "3.0-r0", Depends: []string{"base"}}); err != nil {
		t.Fatal(err)
	}
	requests = new(atomic.Int64)
	h := main.Handler()
	srvMain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srvMain.Close)
	srvEdge = httptest.NewServer(edge.Handler())
	t.Cleanup(srvEdge.Close)
	return key, main, edge, srvMain, srvEdge, requests
}

// runResolve runs `rootfs-synth resolve args...` as an unprivileged user
// with HOME and XDG_CACHE_HOME in home.
func runResolve(t *testing.T, home string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := testenv.Unprivileged(t, testenv.Binary(t), append([]string{"resolve"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, "cache"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running rootfs-synth resolve: %v", err)
	}
	return out.String(), errb.String(), code
}

func TestResolveCommand(t *testing.T) {
	key, main, edge, srvMain, srvEdge, requests := resolveRepos(t)
	home := testenv.WorldDir(t)
	keys := filepath.Join(home, "keys")
	if err := os.MkdirAll(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, key.Name), key.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(home, "mirror")
	if err := main.WriteDir(mirror); err != nil {
		t.Fatal(err)
	}
	mainURL, edgeURL := main.URL(srvMain.URL), edge.URL(srvEdge.URL)
	// --mirror none: resolve takes the build's repository flags, where
	// --repository adds to the mirror's main and community.
	trusted := []string{"--arch", "x86_64", "--keys-dir", keys, "--mirror", "none"}

	tests := []struct {
		name       string
		home       string // "" = the shared one
		args       []string
		wantOut    string
		wantCode   int
		wantStderr []string
	}{
		{"install order", "", append(trusted, "--repository", mainURL, "app"),
			"base-1.0-r0\nlib-2.1-r3\napp-0.9-r0\n", 0, nil},
		{"version atom", "", append(trusted, "--repository", mainURL, "lib>=2"),
			"base-1.0-r0\nlib-2.1-r3\n", 0, nil},
		{"tagged repository", "", append(trusted, "--repository", mainURL, "--repository", "@edge "+edgeURL, "shiny@edge"),
			"base-1.0-r0\nshiny-3.0-r0\n", 0, nil},
		{"tagged repository needs the tag", "", append(trusted, "--repository", mainURL, "--repository", "@edge "+edgeURL, "shiny"),
			"", 1, []string{"shiny"}},
		{"unsatisfiable", "", append(trusted, "--repository", mainURL, "app", "conflicting"),
			"", 1, []string{"conflicting", "base"}},
		{"no such package", "", append(trusted, "--repository", mainURL, "nosuchpkg"),
			"", 1, []string{"nosuchpkg"}},
		{"bad atom", "", append(trusted, "--repository", mainURL, "app>="),
			"", 2, []string{`resolve: parsing dependency "app>="`}},
		{"folded operator", "", append(trusted, "--repository", mainURL, "app>>=0.9"),
			"", 2, []string{`resolve: parsing dependency "app>>=0.9": operator ">>="`}},
		{"directory repository", "", append(trusted, "--repository", main.URL(mirror), "app"),
			"base-1.0-r0\nlib-2.1-r3\napp-0.9-r0\n", 0, nil},
		{"mirrors", "", append(trusted, "--repository", "http://127.0.0.1:1/v3.23/main "+mainURL, "app"),
			"base-1.0-r0\nlib-2.1-r3\napp-0.9-r0\n", 0, nil},
		{"unknown key", "", []string{"--arch", "x86_64", "--mirror", "none", "--repository", mainURL, "app"},
			"", 1, []string{mainURL, key.Name}},
		{"allow untrusted", "", []string{"--arch", "x86_64", "--mirror", "none", "--allow-untrusted", "--repository", mainURL, "app"},
			"base-1.0-r0\nlib-2.1-r3\napp-0.9-r0\n", 0, []string{"WARNING", "untrusted"}},
		{"offline warm cache", "", append(trusted, "--offline", "--repository", mainURL, "app"),
			"base-1.0-r0\nlib-2.1-r3\napp-0.9-r0\n", 0, nil},
		{"offline cold cache", testenv.WorldDir(t), append(trusted, "--offline", "--repository", mainURL, "app"),
			"", 1, []string{"offline", mainURL}},
		{"explicit cache dir", "", append(trusted, "--cache-dir", filepath.Join(home, "other-cache"), "--repository", mainURL, "app"),
			"base-1.0-r0\nlib-2.1-r3\napp-0.9-r0\n", 0, nil},
		{"no atom", "", append(trusted, "--repository", mainURL),
			"", 2, []string{"no ATOM"}},
		// The flag rule of every command (args.go): flags after the atoms
		// too; a flag without its value or an unknown one is a usage error.
		{"flags after atoms", "", append([]string{"app", "--repository", mainURL}, trusted...),
			"base-1.0-r0\nlib-2.1-r3\napp-0.9-r0\n", 0, nil},
		{"atom after --", "", append(trusted, "--repository", mainURL, "--", "app"),
			"base-1.0-r0\nlib-2.1-r3\napp-0.9-r0\n", 0, nil},
		{"missing value", "", append(trusted, "app", "--repository"),
			"", 2, []string{"resolve: flag --repository needs a value"}},
		{"unknown flag", "", append(trusted, "--repository", mainURL, "app", "--frobnicate"),
			"", 2, []string{"resolve: unknown flag --frobnicate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.home
			if h == "" {
				h = home
			}
			before := requests.Load()
			out, stderr, code := runResolve(t, h, tt.args...)
			t.Logf("stderr:\n%s", stderr)
			if n := requests.Load() - before; strings.HasPrefix(tt.name, "offline") && n != 0 {
				t.Errorf("rootfs-synth resolve %s made %d requests, want none", strings.Join(tt.args, " "), n)
			}
			if out != tt.wantOut || code != tt.wantCode {
				t.Errorf("rootfs-synth resolve %s = %q, exit %d, want %q, exit %d\nstderr: %s",
					strings.Join(tt.args, " "), out, code, tt.wantOut, tt.wantCode, stderr)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("rootfs-synth resolve %s: stderr = %q, want it to contain %q", strings.Join(tt.args, " "), stderr, s)
				}
			}
		})
	}

	// The default cache is $XDG_CACHE_HOME/rootfs-synth, written by the
	// unprivileged user; --cache-dir went elsewhere.
	for _, dir := range []string{filepath.Join(home, "cache", "rootfs-synth", "indexes"), filepath.Join(home, "other-cache", "indexes")} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("index cache: %v", err)
		}
	}
}
