//go:build linux

package main

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestBuildDeferredScripts: by default a trigger the build cannot
// reproduce is reported "deferred" and stored in the image for the first
// boot (ls lists it); with --no-deferred-scripts it is "not-reproduced"
// and the image has no such directory; --strict refuses the build either
// way.
func TestBuildDeferredScripts(t *testing.T) {
	m := newMirror(t, apktest.Pkg{
		Name: "fonts-ish", Version: "1-r0", Triggers: []string{"/usr/share/fonts/*"},
		Scripts: map[string]string{"trigger": "#!/bin/sh\nfc-cache \"$@\"\n"},
		Files:   []apktest.File{{Name: "usr/share/fonts/misc/", Mode: fs.ModeDir | 0o755}},
	})
	out := testenv.WorldDir(t)
	build1 := func(name string, flags ...string) (img, status string) {
		t.Helper()
		img = filepath.Join(out, name+".ext4")
		args := append(append(m.trusted(), "-q", "--profile", "none", "-p", "fonts-ish", "-o", img, "--report", img+".json"), flags...)
		if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
			t.Fatalf("rootfs-synth %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		rep := readReportFile(t, img+".json")
		for _, s := range rep.Scripts {
			if s.Package == "fonts-ish-1-r0" && s.Script == ".trigger" {
				status = s.Status
			}
		}
		return img, status
	}
	const dir = "/usr/lib/rootfs-synth/deferred-scripts"
	img, status := build1("deferred")
	if status != "deferred" {
		t.Errorf("default build: fonts-ish's trigger is %q, want deferred", status)
	}
	stdout, stderr, code := runCmd(t, m.command(t, nil, "ls", img, dir))
	if code != 0 || !strings.Contains(stdout, "001-fonts-ish-1-r0.trigger") {
		t.Errorf("ls %s of the default build = exit %d\n%s%s\nwant the stored trigger", dir, code, stdout, stderr)
	}
	img, status = build1("not-deferred", "--no-deferred-scripts")
	if status != "not-reproduced" {
		t.Errorf("--no-deferred-scripts: fonts-ish's trigger is %q, want not-reproduced", status)
	}
	if stdout, _, code := runCmd(t, m.command(t, nil, "ls", img, dir)); code == 0 {
		t.Errorf("--no-deferred-scripts: ls %s succeeded:\n%s\nwant no such directory", dir, stdout)
	}
	for _, flags := range [][]string{{"--strict"}, {"--strict", "--no-deferred-scripts"}} {
		args := append(append(m.trusted(), "--profile", "none", "-p", "fonts-ish", "-o", filepath.Join(out, "strict.ext4")), flags...)
		_, stderr, code := runCmd(t, m.command(t, nil, args...))
		checkFailure(t, args, stderr, code, "the build is strict")
	}
}
