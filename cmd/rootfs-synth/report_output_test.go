//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestReportNamesImage: a --report that is the image itself — by the
// same name, through "..", a symlinked directory, a symlink or a hard
// link — is a usage error before anything is built, and the old image
// stays. The control: a report beside the image is written.
func TestReportNamesImage(t *testing.T) {
	m := newMirror(t)
	for _, tt := range []struct {
		name   string
		report func(dir, img string) string
	}{
		{"same name", func(dir, img string) string { return img }},
		{"dot dot", func(dir, img string) string {
			must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o777))
			return filepath.Join(dir, "sub", "..", "img.ext4")
		}},
		{"symlinked directory", func(dir, img string) string {
			must(t, os.Symlink(dir, filepath.Join(dir, "link")))
			return filepath.Join(dir, "link", "img.ext4")
		}},
		{"symlink to the image", func(dir, img string) string {
			must(t, os.Symlink(img, filepath.Join(dir, "report.json")))
			return filepath.Join(dir, "report.json")
		}},
		{"hard link", func(dir, img string) string {
			must(t, os.Link(img, filepath.Join(dir, "report.json")))
			return filepath.Join(dir, "report.json")
		}},
		{"control", func(dir, img string) string { return filepath.Join(dir, "img.json") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := testenv.WorldDir(t)
			img := filepath.Join(dir, "img.ext4")
			writeOldImage(t, img, []byte("old image"))
			report := tt.report(dir, img)
			args := append(m.trusted(), "--profile", "none", "-p", "app", "-o", img, "--report", report)
			_, stderr, code := runCmd(t, m.command(t, nil, args...))
			if tt.name == "control" {
				if code != 0 {
					t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
				}
				if _, err := os.Stat(report); err != nil {
					t.Error(err)
				}
				if b, _ := os.ReadFile(img); string(b) == "old image" {
					t.Error("the build did not replace the image")
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "--report") {
				t.Errorf("rootfs-synth -o %s --report %s = exit %d, stderr %q; want exit 2 and one line naming --report", img, report, code, stderr)
			}
			if b, _ := os.ReadFile(img); string(b) != "old image" {
				t.Errorf("rootfs-synth -o %s --report %s: the image now holds %d bytes, want the old image", img, report, len(b))
			}
		})
	}
}

// TestReportNamesFreshImage: the same for an image not yet there, where
// only the kernel's way of resolving tells that two paths meet: ".." after
// a symlink goes up from the link's target, and a link that dangles until
// the build makes the image's directory. Neither may be written.
func TestReportNamesFreshImage(t *testing.T) {
	m := newMirror(t)
	mkdir := func(p string) {
		must(t, os.MkdirAll(p, 0o777))
		must(t, os.Chmod(p, 0o777))
	}
	for _, tt := range []struct {
		name          string
		paths         func(dir string) (img, report string)
		sameFileTwice bool
	}{
		{"dot dot after a symlink", func(dir string) (string, string) {
			mkdir(filepath.Join(dir, "real"))
			mkdir(filepath.Join(dir, "real", "sub"))
			must(t, os.Symlink(filepath.Join(dir, "real", "sub"), filepath.Join(dir, "link")))
			return filepath.Join(dir, "real", "img.ext4"), filepath.Join(dir, "link") + "/../img.ext4"
		}, true},
		{"a link dangling until the image's directory is made", func(dir string) (string, string) {
			mkdir(filepath.Join(dir, "d"))
			must(t, os.Symlink(filepath.Join(dir, "d", "new"), filepath.Join(dir, "d", "link")))
			return filepath.Join(dir, "d", "new", "img.ext4"), filepath.Join(dir, "d", "link", "img.ext4")
		}, true},
		{"control", func(dir string) (string, string) {
			return filepath.Join(dir, "img.ext4"), filepath.Join(dir, "img.json")
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := testenv.WorldDir(t)
			img, report := tt.paths(dir)
			args := append(m.trusted(), "--profile", "none", "-p", "app", "-o", img, "--report", report)
			_, stderr, code := runCmd(t, m.command(t, nil, args...))
			if !tt.sameFileTwice {
				if code != 0 {
					t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "--report") {
				t.Errorf("rootfs-synth -o %s --report %s = exit %d, stderr %q; want exit 2 and one line naming --report", img, report, code, stderr)
			}
			if _, err := os.Stat(img); err == nil {
				t.Errorf("rootfs-synth -o %s --report %s wrote %s", img, report, img)
			}
		})
	}
}

// writeOldImage writes the image a build is to replace, owned by the
// user the build runs as: in WorldDir, sticky like /tmp, nobody may not
// rename over a file of root's.
func writeOldImage(t *testing.T, path string, data []byte) {
	t.Helper()
	must(t, os.WriteFile(path, data, 0o644))
	if os.Geteuid() == 0 {
		must(t, os.Chown(path, testenv.NobodyUID, testenv.NobodyGID))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReportUnwritableKeepsImage: a --report that cannot be written — its
// directory read-only to the builder, or the name taken by a directory, a
// FIFO or a symlink — fails in one line before anything is resolved, and
// the old image stays byte for byte. The control: the same build with a
// writable report replaces the image.
func TestReportUnwritableKeepsImage(t *testing.T) {
	m := newMirror(t)
	for _, tt := range []struct {
		name   string
		report func(t *testing.T, dir string) string
		want   string
	}{
		{"read-only directory", func(t *testing.T, dir string) string {
			ro := filepath.Join(dir, "ro")
			must(t, os.Mkdir(ro, 0o555))
			if os.Geteuid() != 0 {
				t.Skip("needs root: the build must run as another user than the read-only directory's owner")
			}
			return filepath.Join(ro, "report.json")
		}, "permission denied"},
		{"a directory", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "report.json")
			must(t, os.Mkdir(p, 0o777))
			return p
		}, "a directory"},
		{"a FIFO", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "report.json")
			must(t, syscall.Mkfifo(p, 0o666))
			return p
		}, "a FIFO"},
		{"a symlink", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "report.json")
			must(t, os.Symlink(filepath.Join(dir, "elsewhere.json"), p))
			return p
		}, "a symbolic link"},
		{"control", func(t *testing.T, dir string) string { return filepath.Join(dir, "report.json") }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := testenv.WorldDir(t)
			img := filepath.Join(dir, "img.ext4")
			old := []byte("old image\x00\x01")
			writeOldImage(t, img, old)
			report := tt.report(t, dir)
			args := append(m.trusted(), "--profile", "none", "-p", "app", "-o", img, "--report", report)
			_, stderr, code := runCmd(t, m.command(t, nil, args...))
			got, _ := os.ReadFile(img)
			if tt.want == "" {
				if code != 0 || bytes.Equal(got, old) {
					t.Errorf("rootfs-synth %s = exit %d, image replaced %v; want exit 0 and a new image\nstderr: %s",
						strings.Join(args, " "), code, !bytes.Equal(got, old), stderr)
				}
				return
			}
			checkFailure(t, args, stderr, code, tt.want)
			if !strings.Contains(stderr, "--report") && !strings.Contains(stderr, "report") {
				t.Errorf("the error %q does not name the report", stderr)
			}
			if strings.Contains(stderr, "resolve:") {
				t.Errorf("the report was checked only after resolving:\n%s", stderr)
			}
			if !bytes.Equal(got, old) {
				t.Errorf("after the failed build the image holds %d bytes, want the old %d", len(got), len(old))
			}
			if ents, _ := filepath.Glob(filepath.Join(dir, ".*")); len(ents) > 0 {
				t.Errorf("the failed build left %q", ents)
			}
		})
	}
}
