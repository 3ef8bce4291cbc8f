//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestBuildSBOM: --sbom writes the image's SPDX document, whose image
// checksum is the report's digest; `rootfs-synth sbom IMAGE` (stdout and
// -o) gives the same bytes from the image; a compressed build's --sbom is
// the same document as a raw build's (it describes the raw image).
func TestBuildSBOM(t *testing.T) {
	m := newMirror(t)
	out := filepath.Join(testenv.WorldDir(t), "out")
	run := func(args ...string) string {
		t.Helper()
		cmd := m.command(t, nil, args...)
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1750000000")
		stdout, stderr, code := runCmd(t, cmd)
		if code != 0 {
			t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	img := filepath.Join(out, "img.ext4")
	run(append(m.trusted(), "--profile", "none", "-p", "extra", "-o", img,
		"--report", filepath.Join(out, "report.json"), "--sbom", filepath.Join(out, "sbom.json"))...)
	built := read("sbom.json")
	var doc struct {
		Packages []struct {
			SPDXID    string
			Checksums []struct{ Algorithm, ChecksumValue string }
		}
	}
	if err := json.Unmarshal(built, &doc); err != nil {
		t.Fatal(err)
	}
	rep := readReportFile(t, filepath.Join(out, "report.json"))
	if len(doc.Packages) != 5 || doc.Packages[0].SPDXID != "SPDXRef-Image" ||
		"sha256:"+doc.Packages[0].Checksums[0].ChecksumValue != rep.Image.Digest {
		t.Errorf("--sbom: packages %+v, want the image (checksum %s), the OS and 3 APKs", doc.Packages, rep.Image.Digest)
	}

	if got := run("sbom", img); got != string(built) {
		t.Errorf("rootfs-synth sbom %s differs from the build's --sbom:\n%s\n---\n%s", img, got, built)
	}
	run("sbom", img, "-o", filepath.Join(out, "again.json"))
	if got := read("again.json"); string(got) != string(built) {
		t.Errorf("rootfs-synth sbom -o differs from the build's --sbom")
	}
	run(append(m.trusted(), "--profile", "none", "-p", "extra", "-o", filepath.Join(out, "img.ext4.zst"),
		"--sbom", filepath.Join(out, "zst.json"))...)
	if got := read("zst.json"); string(got) != string(built) {
		t.Errorf("the compressed build's --sbom differs from the raw build's:\n%s\n---\n%s", got, built)
	}
}

// TestSBOMUsage: what the sbom command and --sbom refuse, with exit 2
// for a command line that cannot work and 1 (one line) for an image that
// cannot be read; nothing is written then.
func TestSBOMUsage(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	img := filepath.Join(dir, "img.ext4")
	notImage := filepath.Join(dir, "not-an-image")
	if err := os.WriteFile(notImage, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{append(m.trusted(), "--profile", "none", "-p", "base", "-o", img, "--sbom", img), 2, "--sbom"},
		{append(m.trusted(), "--profile", "none", "-p", "base", "-o", img, "--report", filepath.Join(dir, "r.json"), "--sbom", filepath.Join(dir, "r.json")), 2, "is the report"},
		{append(m.trusted(), "--profile", "none", "-p", "base", "-o", img, "--sbom", dir), 1, "--sbom"},
		{[]string{"sbom"}, 2, "need exactly one IMAGE"},
		{[]string{"sbom", img, img}, 2, "need exactly one IMAGE"},
		{[]string{"sbom", notImage, "-o", notImage}, 2, "is IMAGE itself"},
		{[]string{"sbom", notImage}, 1, "not-an-image"},
		{[]string{"sbom", fifo}, 1, "FIFO"},
		{[]string{"sbom", filepath.Join(dir, "absent.ext4")}, 1, "absent.ext4"},
	} {
		_, stderr, code := runCmd(t, m.command(t, nil, tt.args...))
		if code != tt.code || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("rootfs-synth %s = exit %d, stderr %q; want exit %d and one line mentioning %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.want)
		}
	}
	if _, err := os.Stat(img); err == nil {
		t.Errorf("a refused build left %s", img)
	}
}
