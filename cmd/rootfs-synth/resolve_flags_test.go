//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveBuildFlags: resolve takes the build's repository and
// selection flags with the build's meaning: --mirror (its main and
// community), --branch, --profile (a file here), --lock.
func TestResolveBuildFlags(t *testing.T) {
	m := newMirror(t)
	work := m.home
	profile := filepath.Join(work, "profile.txt")
	if err := os.WriteFile(profile, []byte("app # from main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(work, "report.json")
	build := append(m.trusted(), "--profile", "none", "-p", "extra", "-o", filepath.Join(work, "img.ext4"), "--report", report)
	if _, stderr, code := runCmd(t, m.command(t, nil, build...)); code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(build, " "), code, stderr)
	}
	tests := []struct {
		args     []string
		wantOut  string
		wantCode int
		wantErr  string
	}{
		{append(m.trusted(), "extra"), "base-1.0-r0\napp-0.9-r0\nextra-2-r1\n", 0, ""},
		{append(m.trusted(), "-p", "extra"), "base-1.0-r0\napp-0.9-r0\nextra-2-r1\n", 0, ""},
		{append(m.trusted(), "--profile", profile), "base-1.0-r0\napp-0.9-r0\n", 0, ""},
		{append(m.trusted(), "--lock", report), "base-1.0-r0\napp-0.9-r0\nextra-2-r1\n", 0, ""},
		{append(m.trusted(), "--branch", "v9.9", "app"), "", 1, m.srv.URL + "/v9.9/main"},
		{append(m.trusted(), "--lock", report, "app"), "", 2, "resolve: --lock resolves exactly the locked packages"},
	}
	for _, tt := range tests {
		stdout, stderr, code := runCmd(t, m.command(t, nil, append([]string{"resolve"}, tt.args...)...))
		if stdout != tt.wantOut || code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
			t.Errorf("rootfs-synth resolve %s = %q, exit %d, stderr %q; want %q, exit %d, stderr with %q",
				strings.Join(tt.args, " "), stdout, code, stderr, tt.wantOut, tt.wantCode, tt.wantErr)
		}
	}
}
