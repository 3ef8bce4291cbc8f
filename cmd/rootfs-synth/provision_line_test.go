//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestNotReproducedLine: the provision line counts the scripts it could
// not reproduce — deferred to the first boot, or with
// --no-deferred-scripts left out — in good English, and points at
// --report only when one is being written (else says how to see them);
// with none it says nothing.
func TestNotReproducedLine(t *testing.T) {
	odd := func(name string) apktest.Pkg {
		return apktest.Pkg{Name: name, Version: "1-r0", Scripts: map[string]string{"post-install": "#!/bin/sh\nfrobnicate --all /etc\n"}}
	}
	m := newMirror(t, odd("odd1"), odd("odd2"))
	dir := testenv.WorldDir(t)
	report := filepath.Join(dir, "r.json")
	tests := []struct {
		args []string
		want string // the provision line's end ("": no mention of scripts)
	}{
		{[]string{"-p", "app"}, ""},
		{[]string{"-p", "odd1"}, "; 1 package script deferred to the first boot (see which with -v or --report FILE)"},
		{[]string{"-p", "odd1,odd2", "--report", report}, "; 2 package scripts deferred to the first boot (listed in the report, " + report + ")"},
		{[]string{"-p", "odd1", "-v"}, "; 1 package script deferred to the first boot (listed above)"},
		{[]string{"-p", "odd1", "--no-deferred-scripts"}, "; 1 package script not reproduced (see which with -v or --report FILE)"},
		{[]string{"-p", "odd1,odd2", "--no-deferred-scripts", "-v"}, "; 2 package scripts not reproduced (listed above)"},
	}
	for _, tt := range tests {
		args := append(append(m.trusted(), "--profile", "none", "-o", filepath.Join(dir, "x.ext4")), tt.args...)
		_, stderr, code := runCmd(t, m.command(t, nil, args...))
		if code != 0 {
			t.Fatalf("rootfs-synth %s = exit %d\nstderr:\n%s", strings.Join(tt.args, " "), code, stderr)
		}
		var line string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "provision: ") && strings.Contains(l, " files (") {
				line = l
			}
		}
		if line == "" || !strings.HasSuffix(line, tt.want) || tt.want == "" && strings.Contains(line, "script") {
			t.Errorf("rootfs-synth %s: provision line %q, want it to end in %q", strings.Join(tt.args, " "), line, tt.want)
		}
	}
}
