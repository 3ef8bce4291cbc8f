//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestMissingPackagesOneLine (issue 16, the frictions): a world of 50
// names no repository has fails with one short line giving the count,
// the first names, quoted, and what may be wrong, not a line of 3.9 KB.
func TestMissingPackagesOneLine(t *testing.T) {
	m := newMirror(t)
	args := append(m.trusted(), "-o", filepath.Join(testenv.WorldDir(t), "img.ext4"), "--profile", "none", "-p", "app")
	for i := range 50 {
		args = append(args, "-p", fmt.Sprintf("nosuch%02d", i))
	}
	_, stderr, code := runCmd(t, m.command(t, nil, args...))
	last := stderr[strings.LastIndex(strings.TrimSuffix(stderr, "\n"), "\n")+1:]
	if code != 1 || len(last) > 300 || !strings.Contains(last, "50 packages") ||
		!strings.Contains(last, strconv.Quote("nosuch00")) || !strings.Contains(last, strconv.Quote("nosuch02")) ||
		!strings.Contains(last, "--mirror") || !strings.Contains(last, "--branch") || strings.Count(stderr, "rootfs-synth: ") != 1 {
		t.Errorf("build of 50 missing packages = exit %d, last stderr line (%d bytes):\n%s\nwant exit 1 and one line under 300 bytes with the count, the first names quoted and a hint (--mirror, --branch)",
			code, len(last), last)
	}
}
