//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestConfigBuildEqualsFlags: a build from a build file, run from another
// directory than the file's, writes the same image, byte for byte, as the
// same build from flags; and the file with the report it wrote as --lock
// (a team's rebuild) writes it again. The negative control: a flag
// overriding one key (--hostname) gives another image.
func TestConfigBuildEqualsFlags(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	must(t, os.MkdirAll(filepath.Join(dir, "overlay", "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "overlay", "etc", "motd"), []byte("from the overlay\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "id.pub"), []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST test\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "elsewhere"), 0o755))
	keys, err := filepath.Rel(dir, m.keys)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "build.yaml")
	must(t, os.WriteFile(file, []byte(fmt.Sprintf(`# a team's build
profile: none
packages:
  - extra
mirrors: [%q]
keys-dir: %s
arch: x86_64
files: [overlay]
authorized-keys: id.pub
hostname: sbx1
size: 48M
no-journal: true
output: out/config.ext4
report: out/build.json
`, m.srv.URL, keys)), 0o644))
	build := func(args ...string) {
		t.Helper()
		cmd := m.command(t, nil, args...)
		cmd.Dir = filepath.Join(dir, "elsewhere")
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1750000000")
		if _, stderr, code := runCmd(t, cmd); code != 0 {
			t.Fatalf("rootfs-synth %s = exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
	}
	sum := func(p string) string {
		t.Helper()
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return sha256Hex(data)
	}
	build("--config", file)
	build(append(m.trusted(), "--profile", "none", "-p", "extra", "--files", filepath.Join(dir, "overlay"),
		"--authorized-keys", filepath.Join(dir, "id.pub"), "--hostname", "sbx1", "--size", "48M", "--no-journal",
		"-o", filepath.Join(dir, "out", "flags.ext4"))...)
	build("-c", file, "--lock", filepath.Join(dir, "out", "build.json"), "-o", filepath.Join(dir, "out", "locked.ext4"))
	build("-c", file, "--hostname", "sbx2", "-o", filepath.Join(dir, "out", "override.ext4"))
	fromFile, fromFlags, override := sum(filepath.Join(dir, "out", "config.ext4")), sum(filepath.Join(dir, "out", "flags.ext4")), sum(filepath.Join(dir, "out", "override.ext4"))
	if fromFile != fromFlags {
		t.Errorf("sha256 of the build from the file %s, from the flags %s; want them equal", fromFile, fromFlags)
	}
	if locked := sum(filepath.Join(dir, "out", "locked.ext4")); locked != fromFile {
		t.Errorf("sha256 of the build from the file with its report as --lock %s, want the file's %s", locked, fromFile)
	}
	if override == fromFile {
		t.Errorf("negative control: --hostname sbx2 over the file gave the file's image %s; want another", override)
	}
}

// TestConfigPlan: plan, why and the build's --dry-run read the build file
// as the build does (its mirror, keys and packages); the control: the
// same commands with a file that names no mirror go to the official one,
// which this machine cannot reach offline.
func TestConfigPlan(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	file := filepath.Join(dir, "build.yaml")
	must(t, os.WriteFile(file, []byte(fmt.Sprintf("profile: none\npackages: [extra]\nmirrors: [%q]\nkeys-dir: %q\narch: x86_64\nreport: \"-\"\n", m.srv.URL, m.keys)), 0o644))
	// report "-" is the build's stdout; a plan writes no report, so it
	// does not clash with --json.
	for _, args := range [][]string{{"plan", "-c", file}, {"why", "-c", file, "app"}, {"--dry-run", "-c", file}, {"plan", "--json", "-c", file}, {"--dry-run", "--json", "-c", file}} {
		stdout, stderr, code := runCmd(t, m.command(t, nil, args...))
		if code != 0 || !strings.Contains(stdout, "app") {
			t.Errorf("rootfs-synth %s = exit %d, stdout %q, stderr %q; want app in the plan of the file's world", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	offline := filepath.Join(dir, "offline.yaml")
	must(t, os.WriteFile(offline, []byte(fmt.Sprintf("profile: none\npackages: [extra]\nkeys-dir: %q\narch: x86_64\noffline: true\n", m.keys)), 0o644))
	if _, stderr, code := runCmd(t, m.command(t, nil, "plan", "-c", offline)); code == 0 || !strings.Contains(stderr, "dl-cdn.alpinelinux.org") {
		t.Errorf("rootfs-synth plan -c %s (no mirror, offline) = exit %d, stderr %q; want a failure naming the official mirror", offline, code, stderr)
	}
}
