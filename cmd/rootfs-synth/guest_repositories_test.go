//go:build linux

package main

import (
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// debugfsCat is a file of an image as debugfs reads it.
func debugfsCat(t *testing.T, img, path string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", "cat "+path, img).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", path, err)
	}
	return string(out)
}

// TestGuestRepositories: the image's /etc/apk/repositories is the
// official mirror's for the branch although the build read a mirror on
// 127.0.0.1 (failing over to it from a dead one, which the report does
// not name); --guest-repository replaces it; a tagged world atom gets its
// tagged line; a --guest-repository without the world's tag is a usage
// error.
func TestGuestRepositories(t *testing.T) {
	m := newMirror(t)
	edge := apktest.NewRepo(m.key)
	edge.Branch, edge.Name = "edge", "testing"
	if _, err := edge.Add(apktest.Pkg{Name: "shiny", Version: "3.0-r0", Depends: []string{"base"}}); err != nil {
		t.Fatal(err)
	}
	edgeSrv := httptest.NewServer(edge.Handler())
	t.Cleanup(edgeSrv.Close)
	const cdn = "https://dl-cdn.alpinelinux.org/alpine/"
	work := testenv.WorldDir(t)

	tests := []struct {
		name      string
		args      []string
		want      string   // /etc/apk/repositories
		wantRepos []string // the report's repositories
	}{
		{"default", append(m.keyFlags(), "--mirror", "http://127.0.0.1:1/alpine", "--mirror", m.srv.URL, "-p", "app"),
			cdn + "v3.23/main\n" + cdn + "v3.23/community\n",
			[]string{m.srv.URL + "/v3.23/main", m.srv.URL + "/v3.23/community"}},
		{"given", append(m.trusted(), "-p", "app", "--guest-repository", "https://m.example.org/alpine/v3.23/main",
			"--guest-repository", "@local https://pkgs.example.org/repo"),
			"https://m.example.org/alpine/v3.23/main\n@local https://pkgs.example.org/repo\n", nil},
		{"tagged world atom", append(m.trusted(), "-p", "app shiny@edge", "--repository", "@edge "+edge.URL(edgeSrv.URL)),
			cdn + "v3.23/main\n" + cdn + "v3.23/community\n@edge " + cdn + "edge/testing\n",
			[]string{m.srv.URL + "/v3.23/main", m.srv.URL + "/v3.23/community", "@edge " + edge.URL(edgeSrv.URL)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, report := filepath.Join(work, tt.name+".ext4"), filepath.Join(work, tt.name+".json")
			args := append(tt.args, "--profile", "none", "-o", img, "--report", report)
			_, stderr, code := runCmd(t, m.command(t, nil, args...))
			if code != 0 {
				t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
			}
			if got := debugfsCat(t, img, "/etc/apk/repositories"); got != tt.want {
				t.Errorf("rootfs-synth %s: /etc/apk/repositories = %q, want %q", strings.Join(args, " "), got, tt.want)
			}
			if tt.wantRepos == nil {
				return
			}
			rep := readReportFile(t, report)
			if strings.Join(rep.Repositories, " ") != strings.Join(tt.wantRepos, " ") {
				t.Errorf("rootfs-synth %s: the report's repositories = %q, want the mirrors read: %q", strings.Join(args, " "), rep.Repositories, tt.wantRepos)
			}
		})
	}

	args := append(m.trusted(), "--profile", "none", "-p", "shiny@edge", "--repository", "@edge "+edge.URL(edgeSrv.URL),
		"--guest-repository", cdn+"v3.23/main", "-o", filepath.Join(work, "refused.ext4"))
	_, stderr, code := runCmd(t, m.command(t, nil, args...))
	if want := "rootfs-synth: --guest-repository: no @edge line, and the world pins shiny@edge"; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("rootfs-synth %s = exit %d, stderr %q; want exit 2 and %q", strings.Join(args, " "), code, stderr, want)
	}
}

// TestLockTaggedWorld: a build whose world pins a tag (shiny@edge, from
// a tagged --repository) rebuilds from its report as --lock to the same
// bytes; apk masks a tagged repository's packages to an untagged atom, so
// the lock must carry the tag. The control: the same lock without the
// tagged repository fails, saying so.
func TestLockTaggedWorld(t *testing.T) {
	m := newMirror(t)
	edge := apktest.NewRepo(m.key)
	edge.Branch, edge.Name = "edge", "testing"
	for _, p := range []apktest.Pkg{{Name: "shiny", Version: "3.0-r0", Depends: []string{"base", "glitter"}}, {Name: "glitter", Version: "1.0-r0"}} {
		if _, err := edge.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	edgeSrv := httptest.NewServer(edge.Handler())
	t.Cleanup(edgeSrv.Close)
	work := testenv.WorldDir(t)
	a, b, report := filepath.Join(work, "a.ext4"), filepath.Join(work, "b.ext4"), filepath.Join(work, "a.json")
	tagged := []string{"--repository", "@edge " + edge.URL(edgeSrv.URL)}
	args := append(append(m.trusted(), tagged...), "--profile", "none", "-p", "shiny@edge", "-o", a, "--report", report)
	if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	args = append(append(m.trusted(), tagged...), "--lock", report, "-o", b)
	if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
		t.Fatalf("rootfs-synth --lock of a tagged world = exit %d\nstderr: %s", code, stderr)
	}
	if fileSHA256(t, a) != fileSHA256(t, b) {
		t.Errorf("the build from the lock of a tagged world differs from the build it locks")
	}
	args = append(m.trusted(), "--lock", report, "-o", b)
	if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code == 0 || !strings.Contains(stderr, "no repository is tagged @edge") {
		t.Errorf("rootfs-synth --lock without the tagged repository = exit %d, stderr %q; want a failure saying no repository is tagged @edge", code, stderr)
	}
}
