//go:build linux

package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// TestFetchLock: --lock selects exactly the packages of a build report,
// by checksum; a report naming a build the mirror no longer has fails
// naming the package; --lock with --profile is a usage error.
func TestFetchLock(t *testing.T) {
	m := newMirror(t)
	q1 := func(c []byte) string { return "Q1" + base64.StdEncoding.EncodeToString(c) }
	writeReport := func(name string, pkgs []provision.PackageReport) string {
		t.Helper()
		rep := &build.Report{Arch: "x86_64", World: []string{"app"}, Packages: pkgs}
		p := filepath.Join(m.home, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := rep.WriteJSON(f); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var locked []provision.PackageReport
	for _, b := range m.main.Packages {
		if r := b.Record; r.Name == "base" || r.Name == "app" {
			locked = append(locked, provision.PackageReport{Name: r.Name, Version: r.Version, Arch: "x86_64", Checksum: q1(r.Checksum)})
		}
	}
	good := writeReport("good.json", locked)
	gone := append([]provision.PackageReport{}, locked...)
	gone[0].Checksum = q1(make([]byte, 20)) // a build of base that the mirror never had
	stale := writeReport("stale.json", gone)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout for exit 0, in stderr otherwise
	}{
		{"locked packages only", []string{"--lock", good}, 0, "fetched 2 packages"},
		{"pruned build", []string{"--lock", stale}, 1, gone[0].Name},
		{"lock and profile", []string{"--lock", good, "--profile", "minimal"}, 2, "--lock builds exactly the locked packages"},
		{"missing lock", []string{"--lock", filepath.Join(m.home, "nosuch.json")}, 1, "nosuch.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"fetch"}, m.trusted()...), tt.args...)
			stdout, stderr, code := runCmd(t, m.command(t, nil, args...))
			got := stdout
			if tt.wantCode != 0 {
				got = stderr
			}
			if code != tt.wantCode || !strings.Contains(got, tt.want) {
				t.Errorf("rootfs-synth %s = exit %d, stdout %q, stderr %q; want exit %d and %q",
					strings.Join(tt.args, " "), code, stdout, stderr, tt.wantCode, tt.want)
			}
		})
	}
}

// TestFetchProfileFile: --profile takes a path to a profile file, whose
// atoms are fetched together with --packages.
func TestFetchProfileFile(t *testing.T) {
	m := newMirror(t)
	profile := filepath.Join(m.home, "my-profile.txt")
	if err := os.WriteFile(profile, []byte("# what the test needs\napp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"fetch"}, m.trusted()...), "--profile", profile, "-p", "extra")
	stdout, stderr, code := runCmd(t, m.command(t, nil, args...))
	if code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	if !strings.Contains(stdout, "fetched 3 packages") {
		t.Errorf("rootfs-synth %s: stdout %q, want 3 packages (app, its base, extra)", strings.Join(args, " "), stdout)
	}
}
