//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/internal/registrytest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestDiffNamesThePackage: diff of two builds that differ by one package
// names exactly that package and its files, as text and as JSON; diff
// of a build report against an image names the package too.
func TestDiffNamesThePackage(t *testing.T) {
	m := newMirror(t, apktest.Pkg{Name: "other", Version: "3-r0", Files: []apktest.File{
		{Name: "etc/other", Data: []byte("other\n")}, {Name: "usr/lib/other/data", Data: []byte("data\n")}}})
	dir := testenv.WorldDir(t)
	build := func(name string, atoms ...string) string {
		t.Helper()
		out := filepath.Join(dir, name+".ext4")
		args := append(m.trusted(), "--profile", "none", "-q", "-o", out, "--report", filepath.Join(dir, name+".json"))
		for _, a := range atoms {
			args = append(args, "-p", a)
		}
		if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
			t.Fatalf("build = exit %d\nstderr: %s", code, stderr)
		}
		return out
	}
	a, b := build("a", "extra"), build("b", "extra", "other")

	stdout, stderr, code := runCmd(t, m.command(t, nil, "diff", a, b))
	if code != 0 {
		t.Fatalf("diff = exit %d: %s", code, stderr)
	}
	for _, want := range []string{"packages: 1 added, 0 removed, 0 changed\n+ other 3-r0\n", "+ /etc/other (other)\n", "+ /usr/lib/other/data (other)\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("diff output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, stderr, code = runCmd(t, m.command(t, nil, "diff", "--json", a, b))
	if code != 0 {
		t.Fatalf("diff --json = exit %d: %s", code, stderr)
	}
	var res diffResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != 1 || res.Packages[0].Name != "other" || res.Packages[0].New != "3-r0" {
		t.Errorf("diff --json packages = %+v, want other added", res.Packages)
	}
	var owned []string
	for _, f := range res.Files {
		if f.Package == "other" {
			owned = append(owned, f.Path)
		}
	}
	// Not /usr/lib: both images have it, for the report.
	if want := []string{"/etc/other", "/usr/lib/other", "/usr/lib/other/data"}; !slices.Equal(owned, want) {
		t.Errorf("diff --json files of other = %q, want %q", owned, want)
	}

	// A report against an image: packages only.
	stdout, _, code = runCmd(t, m.command(t, nil, "diff", filepath.Join(dir, "a.json"), b))
	if code != 0 || !strings.Contains(stdout, "+ other 3-r0\n") || strings.Contains(stdout, "files:") {
		t.Errorf("diff a.json b.ext4 = exit %d:\n%s", code, stdout)
	}
	// The control: an image against itself.
	stdout, _, code = runCmd(t, m.command(t, nil, "diff", a, a))
	if code != 0 || stdout != "packages: 0 added, 0 removed, 0 changed\nfiles: 0 added, 0 removed, 0 changed\n" {
		t.Errorf("diff a a = exit %d:\n%s", code, stdout)
	}
}

// TestInspectIsTheReport: inspect --json of an image prints the report
// the build wrote, but for the phases' times, which the image does not
// keep, and the repositories, which it names by the official mirror.
func TestInspectIsTheReport(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	out, report := filepath.Join(dir, "a.ext4"), filepath.Join(dir, "a.json")
	args := append(m.trusted(), "--profile", "none", "-p", "extra", "-q", "-o", out, "--report", report)
	if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
		t.Fatalf("build = exit %d\nstderr: %s", code, stderr)
	}
	stdout, stderr, code := runCmd(t, m.command(t, nil, "inspect", "--json", out))
	if code != 0 {
		t.Fatalf("inspect = exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	want, err := build.ReadReport(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := build.ReadReport(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	// The image keeps the report as InImage has it; inspect adds back
	// where and what the image is.
	img := want.Image
	want = want.InImage()
	want.Image = img
	if !sameReport(got, want) {
		t.Errorf("inspect --json =\n%s\nthe build's report:\n%s", stdout, data)
	}

	stdout, _, code = runCmd(t, m.command(t, nil, "inspect", out))
	for _, line := range []string{"digest        sha256:", "packages      3\n", "  extra 2-r1\n"} {
		if code != 0 || !strings.Contains(stdout, line) {
			t.Errorf("inspect = exit %d, lacks %q:\n%s", code, line, stdout)
		}
	}
}

// sameReport compares reports as JSON.
func sameReport(a, b *build.Report) bool {
	var ja, jb bytes.Buffer
	a.WriteJSON(&ja)
	b.WriteJSON(&jb)
	return ja.String() == jb.String()
}

// TestInspectDiffUsage: wrong argument counts are usage errors (exit 2),
// and a file that is neither image nor report is one line naming it.
func TestInspectDiffUsage(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("x"), 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect"}, 2, "inspect: need IMAGE"},
		{[]string{"diff", junk}, 2, "diff: need A B"},
		{[]string{"inspect", junk}, 1, junk},
		{[]string{"diff", junk, junk}, 1, junk},
	} {
		var stderr bytes.Buffer
		code := run(t.Context(), newApp(time.Unix(1700000000, 0)), tt.args, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q = exit %d, %q; want exit %d naming %q in one line", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}

// TestInspectCompressed: inspect of a build's .zst output describes the
// raw image in it (the digest the build reported) and the compressed
// file's digest; diff of it against the same build written raw finds
// nothing. The control: a different build does differ.
func TestInspectCompressed(t *testing.T) {
	m := newMirror(t, apktest.Pkg{Name: "other", Version: "3-r0", Files: []apktest.File{{Name: "etc/other", Data: []byte("other\n")}}})
	dir := testenv.WorldDir(t)
	buildTo := func(out string, atoms ...string) *build.Report {
		t.Helper()
		report := out + ".json"
		args := append(m.trusted(), "--profile", "none", "-q", "-o", out, "--report", report)
		for _, a := range atoms {
			args = append(args, "-p", a)
		}
		if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
			t.Fatalf("build = exit %d\nstderr: %s", code, stderr)
		}
		return readReportFile(t, report)
	}
	raw, zst, other := filepath.Join(dir, "a.ext4"), filepath.Join(dir, "a.ext4.zst"), filepath.Join(dir, "b.ext4.zst")
	buildTo(raw, "extra")
	want := buildTo(zst, "extra")
	buildTo(other, "extra", "other")

	stdout, stderr, code := runCmd(t, m.command(t, nil, "inspect", "--json", zst))
	if code != 0 {
		t.Fatalf("inspect %s = exit %d: %s", zst, code, stderr)
	}
	got, err := build.ReadReport(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if got.Image.Digest != want.Image.Digest || got.Image.CompressedDigest != fileSHA256(t, zst) || got.Image.Size != want.Image.Size {
		t.Errorf("inspect --json of the .zst: image %+v, want digest %s, compressed digest %s, size %d",
			got.Image, want.Image.Digest, fileSHA256(t, zst), want.Image.Size)
	}
	stdout, _, code = runCmd(t, m.command(t, nil, "inspect", zst))
	if code != 0 || !strings.Contains(stdout, "compressed    zstd, "+fileSHA256(t, zst)+"\n") {
		t.Errorf("inspect %s = exit %d, no compressed line:\n%s", zst, code, stdout)
	}

	stdout, _, code = runCmd(t, m.command(t, nil, "diff", raw, zst))
	if code != 0 || stdout != "packages: 0 added, 0 removed, 0 changed\nfiles: 0 added, 0 removed, 0 changed\n" {
		t.Errorf("diff of a build written raw and as .zst = exit %d:\n%s", code, stdout)
	}
	stdout, _, code = runCmd(t, m.command(t, nil, "diff", zst, other))
	if code != 0 || !strings.Contains(stdout, "+ other 3-r0\n") {
		t.Errorf("diff %s %s = exit %d, want other added:\n%s", zst, other, code, stdout)
	}
}

// TestInspectRef: inspect of a registry reference pulls the image and
// prints the report the build wrote (as the image keeps it, with the
// image section read from the pulled image), the same as inspect of the
// file; diff of the reference against the file finds nothing, and against
// another build names the package. The control: a reference to a tag not
// pushed is an error, one line, naming it.
func TestInspectRef(t *testing.T) {
	m := newMirror(t, apktest.Pkg{Name: "other", Version: "3-r0", Files: []apktest.File{{Name: "etc/other", Data: []byte("other\n")}}})
	reg := registrytest.Serve(t, false)
	dir := testenv.WorldDir(t)
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "no-docker-config"))
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "no-auth.json"))
	img, other, report := filepath.Join(dir, "a.ext4.zst"), filepath.Join(dir, "b.ext4"), filepath.Join(dir, "a.json")
	for _, b := range []struct {
		out  string
		args []string
	}{{img, []string{"--report", report}}, {other, []string{"-p", "other"}}} {
		args := append(append(m.trusted(), "--profile", "none", "-p", "extra", "-q", "-o", b.out), b.args...)
		if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
			t.Fatalf("build = exit %d\nstderr: %s", code, stderr)
		}
	}
	ref := reg.Host + "/sandbox/alpine:v1"
	if _, stderr, code := runBinary(t, "push", img, ref); code != 0 {
		t.Fatalf("push = exit %d: %s", code, stderr)
	}

	stdout, stderr, code := runBinary(t, "inspect", "--json", "--arch", "x86_64", ref)
	if code != 0 {
		t.Fatalf("inspect %s = exit %d: %s", ref, code, stderr)
	}
	got, err := build.ReadReport(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	want := readReportFile(t, report)
	wantImage := *want.Image
	want = want.InImage()
	gotImage := *got.Image
	got.Image = nil
	if !sameReport(got, want) {
		t.Errorf("inspect --json %s =\n%s\nwant the build's report as the image keeps it", ref, stdout)
	}
	if gotImage.Path != ref || gotImage.Digest != wantImage.Digest || gotImage.Size != wantImage.Size || gotImage.UUID != wantImage.UUID {
		t.Errorf("inspect --json %s: image %+v, want path %s and the build's digest %s, size %d, UUID %s",
			ref, gotImage, ref, wantImage.Digest, wantImage.Size, wantImage.UUID)
	}

	stdout, _, code = runBinary(t, "diff", "--arch", "x86_64", img, ref)
	if code != 0 || stdout != "packages: 0 added, 0 removed, 0 changed\nfiles: 0 added, 0 removed, 0 changed\n" {
		t.Errorf("diff %s %s = exit %d:\n%s", img, ref, code, stdout)
	}
	stdout, _, code = runBinary(t, "diff", "--arch", "x86_64", ref, other)
	if code != 0 || !strings.Contains(stdout, "+ other 3-r0\n") {
		t.Errorf("diff %s %s = exit %d, want other added:\n%s", ref, other, code, stdout)
	}

	missing := reg.Host + "/sandbox/alpine:nope"
	_, stderr, code = runBinary(t, "inspect", missing)
	if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "nope") {
		t.Errorf("inspect %s = exit %d, stderr %q; want one line naming it", missing, code, stderr)
	}
}

// TestIsRef: a registry reference names no file, a repository and a tag
// or digest, and does not start as a path does; a file that exists is
// never a reference.
func TestIsRef(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "reg.example")
	must(t, os.MkdirAll(existing, 0o755))
	must(t, os.WriteFile(filepath.Join(existing, "a:v1"), nil, 0o644))
	t.Chdir(dir)
	for arg, want := range map[string]bool{
		"registry.example/sandbox/alpine:v1":                      true,
		"localhost:5000/alpine@sha256:" + strings.Repeat("a", 64): true,
		"reg.example/a:v1":     false, // the file
		"alpine.ext4":          false,
		"./out/app:v1":         false,
		"../images/a:1":        false,
		"/tmp/a:b":             false,
		"build/alpine.ext4":    false, // no tag
		"registry.example/Up:": false, // not a reference
	} {
		if got := isRef(arg); got != want {
			t.Errorf("isRef(%q) = %v, want %v", arg, got, want)
		}
	}
}
