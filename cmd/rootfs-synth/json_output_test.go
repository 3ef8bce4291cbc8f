//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestReportToStdout: `--report -` writes the build report on stdout
// (readable as a --lock), the person's summary on stderr, and no file
// named "-".
func TestReportToStdout(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	img := filepath.Join(dir, "x.ext4")
	args := append(m.trusted(), "--profile", "none", "-p", "app", "-o", img, "--report", "-")
	cmd := m.command(t, nil, args...)
	cmd.Dir = dir
	stdout, stderr, code := runCmd(t, cmd)
	if code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	rep, err := build.ReadReport(strings.NewReader(stdout))
	if err != nil {
		t.Fatalf("rootfs-synth --report -: stdout is no report: %v\nstdout:\n%s", err, stdout)
	}
	if rep.Image == nil || rep.Image.Path != img || len(rep.Packages) != 2 {
		t.Errorf("rootfs-synth --report -: report of image %+v with %d packages, want %s with 2", rep.Image, len(rep.Packages), img)
	}
	if !strings.Contains(stderr, "built "+img) {
		t.Errorf("rootfs-synth --report -: stderr %q, want the summary there", stderr)
	}
	if _, err := os.Lstat(filepath.Join(dir, "-")); err == nil {
		t.Error(`rootfs-synth --report - wrote a file named "-"`)
	}
}

// TestJSONSummary: --json prints one JSON object on stdout, the
// summary for machines (every field of jsonSummary, unknown ones
// refused), and no summary for people; with --report FILE it names it;
// `--json --report -` is a usage error (both on stdout).
func TestJSONSummary(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	img := filepath.Join(dir, "x.ext4")
	report := filepath.Join(dir, "r.json")
	args := append(m.trusted(), "--profile", "none", "-p", "app", "-o", img, "--json", "--report", report)
	stdout, stderr, code := runCmd(t, m.command(t, nil, args...))
	if code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	var got jsonSummary
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || dec.More() {
		t.Fatalf("rootfs-synth --json: stdout is not one JSON summary (%v):\n%s", err, stdout)
	}
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range got.Packages {
		names[p.Name+"-"+p.Version] = true
	}
	switch {
	case got.Image != img, got.Size != st.Size(), got.Report != report, got.Arch != "x86_64", got.UUID == "",
		got.Digest != fileSHA256(t, img), got.CompressedDigest != "",
		!names["app-0.9-r0"] || !names["base-1.0-r0"] || len(names) != 2,
		got.Files == 0, got.Seconds <= 0, len(got.Phases) != 4:
		t.Errorf("rootfs-synth --json = %+v, want image %s of %d bytes, report %s, arch x86_64, a UUID, app and base, files, seconds and 4 phases",
			got, img, st.Size(), report)
	}
	if strings.Contains(stdout+stderr, "built ") {
		t.Errorf("rootfs-synth --json printed the summary for people:\nstdout: %s\nstderr: %s", stdout, stderr)
	}
	if _, err := os.Stat(report); err != nil {
		t.Error(err)
	}

	args = append(m.trusted(), "--profile", "none", "-p", "app", "-o", img, "--json", "--report", "-")
	stdout, stderr, code = runCmd(t, m.command(t, nil, args...))
	if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--json") || stdout != "" {
		t.Errorf("rootfs-synth --json --report - = exit %d, stdout %q, stderr %q; want exit 2 and one line naming --json", code, stdout, stderr)
	}
}

// fileSHA256 is "sha256:<hex>" of the file name.
func fileSHA256(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return "sha256:" + sha256Hex(b)
}
