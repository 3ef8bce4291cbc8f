//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/build"
)

// TestPlanCommand: `plan` with a build's command line prints each package
// with its sizes and what requires it, and the totals, without fetching a
// package or making the output's directory; --dry-run on the build prints
// the same; --json the same plan for machines; `why` the chain from the
// world.
func TestPlanCommand(t *testing.T) {
	m := newMirror(t, apktest.Pkg{Name: "man", Version: "1-r0"},
		apktest.Pkg{Name: "app-doc", Version: "0.9-r0", InstallIf: []string{"app", "man"}})
	out := filepath.Join(m.home, "never", "img.ext4")
	flags := append(m.trusted(), "--profile", "none", "-p", "extra man", "-o", out, "--hostname", "sbx1")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runCmd(t, m.command(t, nil, args...))
	}

	stdout, stderr, code := run(append([]string{"plan"}, flags...)...)
	if code != 0 {
		t.Fatalf("rootfs-synth plan = exit %d\nstderr: %s", code, stderr)
	}
	var download int64
	for _, r := range []*apktest.Repo{m.main, m.community} {
		for _, p := range r.Packages {
			download += p.Record.Size
		}
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	for _, want := range [][]string{
		{"PACKAGE", "VERSION", "DOWNLOAD", "INSTALLED", "WHY"},
		{"base ", "1.0-r0", "required by app"},
		{"app ", "0.9-r0", "required by extra"},
		{"extra ", "2-r1", "world"},
		{"man ", "world"},
		{"app-doc ", "install_if app, man"},
		{"5 packages: " + sizeString(download) + " to download"},
		{"repositories: " + m.srv.URL + "/v3.23/main, " + m.srv.URL + "/v3.23/community"},
		{"the guest's /etc/apk/repositories: https://dl-cdn.alpinelinux.org/alpine/v3.23/main, https://dl-cdn.alpinelinux.org/alpine/v3.23/community"},
	} {
		found := false
		for _, l := range lines {
			has := true
			for _, w := range want {
				has = has && strings.Contains(l, w)
			}
			found = found || has
		}
		if !found {
			t.Errorf("rootfs-synth plan: no line with %q in\n%s", want, stdout)
		}
	}
	t.Logf("rootfs-synth plan:\n%s", stdout)
	if strings.Contains(stdout, "in the cache") {
		t.Errorf("rootfs-synth plan on a cold cache says some of it is in the cache")
	}
	if _, err := os.Stat(filepath.Dir(out)); err == nil {
		t.Errorf("rootfs-synth plan made the output's directory %s", filepath.Dir(out))
	}
	if pkgs, _ := os.ReadDir(filepath.Join(m.home, "cache", "rootfs-synth", "packages")); len(pkgs) > 0 {
		t.Errorf("rootfs-synth plan fetched %d packages into the cache, want none", len(pkgs))
	}

	dry, stderr, code := run(append(flags, "--dry-run")...)
	if code != 0 || dry != stdout {
		t.Errorf("rootfs-synth --dry-run = exit %d,\n%s\nwant plan's\n%s\nstderr: %s", code, dry, stdout, stderr)
	}

	js, stderr, code := run(append([]string{"plan", "--json"}, flags...)...)
	var plan build.PlanResult
	if err := json.Unmarshal([]byte(js), &plan); code != 0 || err != nil || len(plan.Packages) != 5 || plan.DownloadBytes != download {
		t.Errorf("rootfs-synth plan --json = exit %d, %v: %d packages, %d bytes; want 5 packages, %d bytes\nstderr: %s",
			code, err, len(plan.Packages), plan.DownloadBytes, download, stderr)
	}

	for _, tt := range []struct {
		args     []string
		wantCode int
		want     string // in stdout, or (exit status not 0) in stderr
	}{
		{[]string{"why", "base"}, 0, "base-1.0-r0 is installed for 1 world atom; the shortest chain from each:\n  world: extra -> app -> base\n"},
		{[]string{"why", "app-doc"}, 0, "  world: man -> app-doc (install_if man)\n  world: extra -> app -> app-doc (install_if app)\n"},
		{[]string{"why", "nope"}, 1, `rootfs-synth: why: "nope" is not among the 5 packages`},
		{[]string{"why"}, 2, "why: want one PKG"},
		{[]string{"plan", "--hostname", "no_such host"}, 2, "rootfs-synth: plan: --hostname"},
	} {
		args := append(append([]string{}, tt.args...), flags...)
		if tt.args[0] == "plan" {
			args = append(append([]string{"plan"}, flags...), tt.args[1:]...) // a later --hostname wins
		}
		stdout, stderr, code := run(args...)
		got := stdout
		if tt.wantCode != 0 {
			got = stderr
		}
		if code != tt.wantCode || !strings.Contains(got, tt.want) {
			t.Errorf("rootfs-synth %s = exit %d, stdout %q, stderr %q; want exit %d with %q",
				strings.Join(tt.args, " "), code, stdout, stderr, tt.wantCode, tt.want)
		}
	}
}

// TestPlanCommandCached: after a fetch, the totals say how much of the
// download is in the cache already (before it, nothing: TestPlanCommand).
func TestPlanCommandCached(t *testing.T) {
	m := newMirror(t)
	selection := append(m.trusted(), "--profile", "none", "-p", "extra")
	if _, stderr, code := runCmd(t, m.command(t, nil, append([]string{"fetch"}, selection...)...)); code != 0 {
		t.Fatalf("rootfs-synth fetch = exit %d\nstderr: %s", code, stderr)
	}
	stdout, stderr, code := runCmd(t, m.command(t, nil, append([]string{"plan"}, selection...)...))
	if want := "3 packages: 3.3 KiB to download (3.3 KiB of it in the cache)"; code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("rootfs-synth plan after fetch = exit %d, %q; want %q\nstderr: %s", code, stdout, want, stderr)
	}
}

func TestProfilesCommand(t *testing.T) {
	list, err := runApp("profiles", "list")
	if err != nil || len(strings.Split(strings.TrimSpace(list), "\n")) != 3 ||
		!strings.HasPrefix(list, "minimal ") || !strings.Contains(list, "balanced (default) ") {
		t.Errorf("profiles list = %q, %v; want a line for each of minimal, balanced (the default) and heavy", list, err)
	}
	show, err := runApp("profiles", "show", "minimal")
	if err != nil || !strings.HasPrefix(show, "minimal: the smallest image") ||
		!strings.Contains(show, "\nbusybox-binsh           /bin/sh\n") || !strings.Contains(show, "\nopenssh-server\n") {
		t.Errorf("profiles show minimal = %q, %v; want the description, then each atom with its comment", show, err)
	}
	for _, args := range [][]string{{"profiles", "show", "nope"}, {"profiles", "show"}, {"profiles", "list", "x"}, {"profiles", "nope"}} {
		if _, err := runApp(args...); exitStatus(err) != 2 {
			t.Errorf("rootfs-synth %s = %v, want a usage error (exit 2)", strings.Join(args, " "), err)
		}
	}
}
