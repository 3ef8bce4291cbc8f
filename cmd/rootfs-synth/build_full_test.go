//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestBuildImage: a whole build as a user runs it — packages, an overlay,
// authorized keys, a hostname, a report — gives an e2fsck-clean image
// holding them, a summary and a report with the image, the phases and
// provision's steps filled in, and nothing else in the output directory.
func TestBuildImage(t *testing.T) {
	m := newMirror(t)
	work := testenv.WorldDir(t)
	overlay := filepath.Join(work, "overlay")
	if err := os.MkdirAll(filepath.Join(overlay, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	motd := []byte("built by a test\n")
	if err := os.WriteFile(filepath.Join(overlay, "etc", "base"), motd, 0o644); err != nil { // replaces base's file
		t.Fatal(err)
	}
	keys := []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST test@example\n")
	keyFile := filepath.Join(work, "id.pub")
	if err := os.WriteFile(keyFile, keys, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "out")
	img, report := filepath.Join(out, "img.ext4"), filepath.Join(out, "report.json")
	args := append(m.trusted(), "--profile", "none", "-p", "extra", "--files", overlay,
		"--authorized-keys", keyFile, "--hostname", "sandbox", "-o", img, "--report", report)
	cmd := m.command(t, nil, args...)
	cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1750000000")
	stdout, stderr, code := runCmd(t, cmd)
	if code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	for _, want := range []string{"built " + img, "3 packages", "apparent", "allocated", "resolve", "fetch", "provision", "write"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the summary does not mention %q:\n%s", want, stdout)
		}
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{
		"/etc/base":                  motd, // the overlay's, not the package's
		"/root/.ssh/authorized_keys": keys,
		"/usr/share/extra/README":    []byte("extra\n"),
	} {
		if n := got[path]; n == nil || n.SHA256 != sha256Hex(want) {
			t.Errorf("%s in the image = %+v, want the content %q", path, n, want)
		}
	}
	// /etc/hostname: "sandbox", with or without the newline.
	if n := got["/etc/hostname"]; n == nil || (n.SHA256 != sha256Hex([]byte("sandbox\n")) && n.SHA256 != sha256Hex([]byte("sandbox"))) {
		t.Errorf("/etc/hostname in the image = %+v, want \"sandbox\"", n)
	}
	if n := got["/root/.ssh/authorized_keys"]; n != nil && n.Perm != 0o600 {
		t.Errorf("/root/.ssh/authorized_keys has mode %o, want 600", n.Perm)
	}
	rep := readReportFile(t, report)
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Image == nil || rep.Image.Path != img || rep.Image.Size != st.Size() || len(rep.Phases) != 4 || len(rep.Packages) != 3 {
		t.Errorf("report: image %+v, %d phases, %d packages; want the image at %s (%d bytes), 4 phases, 3 packages",
			rep.Image, len(rep.Phases), len(rep.Packages), img, st.Size())
	}
	// The image's identity: its digest in the report and the summary,
	// and the report (less the image and the phases) inside it.
	imgBytes, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + sha256Hex(imgBytes)
	if rep.Image == nil || rep.Image.Digest != digest || rep.Image.CompressedDigest != "" {
		t.Errorf("report: image %+v, want digest %s and no compressed digest", rep.Image, digest)
	}
	if !strings.Contains(stdout, "digest "+digest+"\n") {
		t.Errorf("the summary does not give the digest %s:\n%s", digest, stdout)
	}
	// The image names Alpine's repositories by the official mirror,
	// whichever mirror served them.
	inImage := *rep
	inImage.Image, inImage.Phases = nil, nil
	inImage.Repositories = []string{build.DefaultMirror + "/v3.23/main", build.DefaultMirror + "/v3.23/community"}
	inImage.Packages = slices.Clone(rep.Packages)
	for i, p := range inImage.Packages {
		inImage.Packages[i].Repository = build.DefaultMirror + strings.TrimPrefix(p.Repository, m.srv.URL)
	}
	var want bytes.Buffer
	if err := inImage.WriteJSON(&want); err != nil {
		t.Fatal(err)
	}
	if n := got[build.ReportPath]; n == nil || n.SHA256 != sha256Hex(want.Bytes()) || n.Perm != 0o644 || n.UID != 0 {
		t.Errorf("%s in the image = %+v, want root's 0644 file holding the report less image and phases:\n%s", build.ReportPath, n, want.Bytes())
	}
	if lock, err := build.ReadReport(bytes.NewReader(want.Bytes())); err != nil || len(lock.Packages) != 3 {
		t.Errorf("the in-image report does not read back as a lock: %v", err)
	}
	for _, p := range rep.Packages {
		if len(p.DataHash) != 64 {
			t.Errorf("report: package %s has datahash %q, want 64 hex digits", p.Name, p.DataHash)
		}
	}
	// provision's own steps, timed inside its phase.
	var steps []string
	for _, p := range rep.Phases {
		for _, s := range p.Steps {
			steps = append(steps, p.Name+"/"+s.Name)
		}
	}
	if got, want := strings.Join(steps, " "), "provision/unpack provision/install provision/triggers provision/accounts provision/database provision/overlay"; got != want {
		t.Errorf("report: steps %q, want %q", got, want)
	}
	if names := dirNames(t, out); strings.Join(names, " ") != "img.ext4 report.json" {
		t.Errorf("the output directory holds %q, want img.ext4 and report.json only", names)
	}
}

// TestConcurrentBuildsShareCache: two builds started together on one
// cold cache both succeed and write identical images.
func TestConcurrentBuildsShareCache(t *testing.T) {
	m := newMirror(t)
	out := filepath.Join(testenv.WorldDir(t), "out")
	var wg sync.WaitGroup
	results := make([]struct {
		stderr string
		code   int
	}, 2)
	for i := range results {
		args := append(m.trusted(), "--profile", "none", "-p", "extra", "-o", filepath.Join(out, []string{"a.ext4", "b.ext4"}[i]))
		cmd := m.command(t, nil, args...)
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1750000000")
		wg.Go(func() {
			var errb bytes.Buffer
			cmd.Stderr = &errb
			err := cmd.Run()
			results[i].stderr, results[i].code = errb.String(), exitCodeOf(err)
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("build %d = exit %d\nstderr: %s", i, r.code, r.stderr)
		}
	}
	a, err := os.ReadFile(filepath.Join(out, "a.ext4"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "b.ext4"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two concurrent builds of one world wrote different images (%d and %d bytes)", len(a), len(b))
	}
}

// exitCodeOf is exitCode for a goroutine (no t.Fatal): -1 when the
// command could not run.
func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		return ee.ExitCode()
	}
	return -1
}

// TestLockedBuildReproduces: a build pinned to an earlier build's report
// (--lock), with a cold cache and without SOURCE_DATE_EPOCH in the
// environment (the report carries it), writes the same image byte for
// byte.
func TestLockedBuildReproduces(t *testing.T) {
	m := newMirror(t)
	work := testenv.WorldDir(t)
	first, report, again := filepath.Join(work, "first.ext4"), filepath.Join(work, "report.json"), filepath.Join(work, "again.ext4")
	args := append(m.trusted(), "--profile", "none", "-p", "extra", "-o", first, "--report", report)
	cmd := m.command(t, nil, args...)
	cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1750000000")
	if _, stderr, code := runCmd(t, cmd); code != 0 {
		t.Fatalf("first build = exit %d\nstderr: %s", code, stderr)
	}
	args = append(m.trusted(), "--lock", report, "-o", again, "--cache-dir", filepath.Join(work, "cold-cache"))
	if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
		t.Fatalf("locked build = exit %d\nstderr: %s", code, stderr)
	}
	a, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(again)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the build pinned to the report wrote a different image")
	}
}

// TestBuildRefusesSpecialOutput: -o naming a symlink (or, as root, a
// device node) fails before anything is fetched and leaves it as it was,
// as mkfs does.
func TestBuildRefusesSpecialOutput(t *testing.T) {
	m := newMirror(t)
	work := testenv.WorldDir(t)
	target := filepath.Join(work, "target")
	if err := os.WriteFile(target, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(work, "link.ext4")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	args := append(m.trusted(), "--profile", "none", "-p", "extra", "-o", link)
	_, stderr, code := runCmd(t, m.command(t, nil, args...))
	checkFailure(t, args, stderr, code, "refusing to replace a symbolic link")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("-o %s: the symlink is gone or changed (%v, %v)", link, fi, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Errorf("the symlink's target now holds %q", b)
	}
}
