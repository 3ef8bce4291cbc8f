//go:build linux

package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestUnknownKeyNamed (issue 16, the frictions): an index signed by a key
// the build does not trust fails with one line naming the key, quoted,
// and suggesting --keys-dir; offline, from a cache filled with the key
// trusted, the same, and not a word of the cache being at fault.
func TestUnknownKeyNamed(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	common := []string{"--arch", "x86_64", "--mirror", m.srv.URL, "-o", filepath.Join(dir, "img.ext4"), "--profile", "none", "-p", "app"}
	// Fill the cache (the key trusted), for the offline case.
	if _, stderr, code := runCmd(t, m.command(t, nil, append(common, "--keys-dir", m.keys)...)); code != 0 {
		t.Fatalf("build with the key = exit %d\n%s", code, stderr)
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"online", common},
		{"offline", append(common, "--offline")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCmd(t, m.command(t, nil, tt.args...))
			if code != 1 || strings.Count(stderr, "rootfs-synth: ") != 1 || strings.Count(stderr, "\n") != countPhaseLines(stderr)+1 ||
				!strings.Contains(stderr, strconv.Quote(m.key.Name)) || !strings.Contains(stderr, "--keys-dir") ||
				strings.Contains(stderr, "cache") {
				t.Errorf("build %s without the key = exit %d, stderr:\n%s\nwant exit 1, one line naming %q and suggesting --keys-dir, not blaming the cache",
					tt.name, code, stderr, m.key.Name)
			}
		})
	}
}
