//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/registrytest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestPushPullCommands: push of an x86_64 and an aarch64 image with an
// SBOM each prints the index and both images by digest, the same lines
// again on a second push; pull picks each arch from the index (the host's
// by default) into a byte-identical image that e2fsck passes, with its
// SBOM and the report stored in the image; a missing arch, a tampered
// layer and misused flags are one line each.
func TestPushPullCommands(t *testing.T) {
	reg := registrytest.Serve(t, false)
	dir := testenv.WorldDir(t)
	// docker's config where there is none: anonymous access, whatever the
	// machine's ~/.docker holds.
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "no-docker-config"))
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "no-auth.json"))
	x86, arm := filepath.Join(dir, "x86_64.ext4"), filepath.Join(dir, "aarch64.ext4.zst")
	registrytest.WriteImage(t, x86, "x86_64", 1)
	armReport := registrytest.WriteImage(t, arm, "aarch64", 2)
	armRaw := filepath.Join(dir, "aarch64-raw.ext4")
	registrytest.WriteImage(t, armRaw, "aarch64", 2)
	sboms := []string{filepath.Join(dir, "x86_64.spdx.json"), filepath.Join(dir, "aarch64.spdx.json")}
	for i, s := range sboms {
		if err := os.WriteFile(s, []byte(`{"spdxVersion":"SPDX-2.3","name":"`+[]string{"x86", "arm"}[i]+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := reg.Host + "/sandbox/alpine"
	ref := repo + ":v1"

	push := []string{"push", x86, arm, ref, "--sbom", sboms[0], "--sbom", sboms[1]}
	out, errOut, code := runBinary(t, push...)
	if code != 0 {
		t.Fatalf("push: exit %d, %s", code, errOut)
	}
	line := regexp.MustCompile(`^` + regexp.QuoteMeta(repo) + `@sha256:[0-9a-f]{64}$`)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !line.MatchString(lines[0]) || !line.MatchString(lines[1]) || !line.MatchString(lines[2]) {
		t.Errorf("push printed %q, want 3 lines REPOSITORY@sha256:... (the index, then each image)", out)
	}
	if again, _, _ := runBinary(t, push...); again != out {
		t.Errorf("second push printed %q, want the first's %q", again, out)
	}
	if r, err := name.ParseReference(ref); err != nil {
		t.Fatal(err)
	} else if d, err := remote.Get(r); err != nil || d.Digest.String() != strings.TrimPrefix(lines[0], repo+"@") {
		t.Errorf("%s names %v (%v), want the index push printed first, %s", ref, d, err, lines[0])
	}

	// aarch64 by --arch, with its SBOM and its report.
	got := filepath.Join(dir, "pulled-aarch64.ext4")
	sbom, report := filepath.Join(dir, "pulled.spdx.json"), filepath.Join(dir, "pulled.report.json")
	out, errOut, code = runBinary(t, "pull", ref, "--arch", "aarch64", "-o", got, "--sbom", sbom, "--report", report)
	if code != 0 || out != lines[2]+" aarch64\n" {
		t.Fatalf("pull --arch aarch64: exit %d, stdout %q, stderr %s; want %q", code, out, errOut, lines[2]+" aarch64")
	}
	sameBytes(t, got, armRaw)
	sameBytes(t, sbom, sboms[1])
	if b, err := os.ReadFile(report); err != nil || !bytes.Equal(b, armReport) {
		t.Errorf("pulled report = %.60q, %v; want the one stored in the image, %.60q", b, err, armReport)
	}
	if err := e2fsck.Check(t, got); err != nil {
		t.Error(err)
	}

	// The host's arch by default.
	if want := map[string]string{"x86_64": x86, "aarch64": armRaw}[apk.HostArch()]; want != "" {
		got = filepath.Join(dir, "pulled-host.ext4")
		if _, errOut, code := runBinary(t, "pull", ref, "-o", got); code != 0 {
			t.Fatalf("pull: exit %d, %s", code, errOut)
		}
		sameBytes(t, got, want)
	}

	oneLine := func(what, stderr string, code, wantCode int, want string) {
		t.Helper()
		t.Logf("%s: exit %d, %s", what, code, stderr)
		if code != wantCode || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and one line containing %q", what, code, stderr, wantCode, want)
		}
	}
	_, errOut, code = runBinary(t, "pull", ref, "--arch", "s390x", "-o", filepath.Join(dir, "s390x.ext4"))
	oneLine("pull --arch s390x", errOut, code, 1, `no image for s390x (it has "aarch64" ("linux/arm64/v8"), "x86_64" ("linux/amd64")`)
	_, errOut, code = runBinary(t, "push", x86, arm, ref, "--sbom", sboms[0])
	oneLine("push with one --sbom for two images", errOut, code, 2, "2 images need 2 --sbom files")
	bare := filepath.Join(dir, "bare.ext4")
	registrytest.WriteImage(t, bare, "", 3)
	_, errOut, code = runBinary(t, "push", bare, repo+":bare")
	oneLine("push of an image without a report", errOut, code, 1, "name the arch (--arch)")
	_, errOut, code = runBinary(t, "pull", repo+":nothing", "-o", filepath.Join(dir, "nothing.ext4"))
	oneLine("pull of a missing tag", errOut, code, 1, "MANIFEST_UNKNOWN")

	same := filepath.Join(dir, "same.out")
	_, errOut, code = runBinary(t, "pull", ref, "--arch", "aarch64", "-o", same, "--sbom", same)
	oneLine("pull -o X --sbom X", errOut, code, 2, "-o and --sbom name one file")

	reg.Tamper()
	tampered, tamperedSBOM := filepath.Join(dir, "tampered.ext4"), filepath.Join(dir, "tampered.spdx.json")
	_, errOut, code = runBinary(t, "pull", ref, "--arch", "aarch64", "-o", tampered, "--sbom", tamperedSBOM)
	oneLine("pull of a tampered layer", errOut, code, 1, "does not match its digest")
	if strings.Contains(errOut, "CRC") {
		t.Errorf("pull of a tampered layer: %q speaks of the decompressor's CRC, want the blob's digest", errOut)
	}
	for _, f := range []string{tampered, tamperedSBOM} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("pull of a tampered layer left %s", f)
		}
	}
}

// sameBytes fails unless the files have the same bytes.
func sameBytes(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s differs from %s (%d and %d bytes)", got, want, len(g), len(w))
	}
}
