//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestUsageHints: a typo in a flag, a command or a value is a usage error
// (exit 2) on one line that says what was meant; --version and
// `help build` answer (exit 0) on stdout.
func TestUsageHints(t *testing.T) {
	m := &mirror{home: testenv.WorldDir(t)}
	img := filepath.Join(m.home, "x.img") // never written: every case fails before
	tests := []struct {
		args   []string
		code   int
		stderr string // the one line on stderr contains it, "…" standing for any text ("" for none)
		stdout string // stdout contains it
	}{
		{[]string{"--profle", "minimal"}, 2, "unknown flag --profle; did you mean --profile?", ""},
		{[]string{"--ouput", "x.ext4"}, 2, "unknown flag --ouput; did you mean --output?", ""},
		{[]string{"mkfs", "--no-jornal", "src"}, 2, "mkfs: unknown flag --no-jornal; did you mean --no-journal?", ""},
		{[]string{"--zzzzzz"}, 2, "unknown flag --zzzzzz", ""},
		{[]string{"resolv", "app"}, 2, `unexpected argument "resolv": did you mean the command resolve?`, ""},
		{[]string{"help", "mkfz"}, 2, "no command mkfz; did you mean mkfs?", ""},
		{[]string{"--profile", "minimall"}, 2, `--profile "minimall": no such profile (minimal, balanced, heavy, none) and no such file; did you mean minimal?`, ""},
		{[]string{"--arch", "amd64"}, 2, `--arch "amd64": not an Alpine architecture (…); did you mean x86_64?`, ""},
		{[]string{"--arch", "x86_46"}, 2, `--arch "x86_46": not an Alpine architecture (…); did you mean x86_64?`, ""},
		{[]string{"resolve", "--arch", "arm64", "app"}, 2, `resolve: --arch "arm64": not an Alpine architecture (…); did you mean aarch64?`, ""},
		{[]string{"fetch", "--arch", "riscv"}, 2, `fetch: --arch "riscv": not an Alpine architecture (…); did you mean riscv64?`, ""},
		{[]string{"-p", "app", "b"}, 2, `unexpected argument "b": the build takes flags only`, ""},
		{[]string{"--mirror", "ftp://x"}, 2, `--mirror: parsing repository`, ""},
		{[]string{"--mirror", "@t"}, 2, `--mirror "@t": want one URL or directory`, ""},
		{[]string{"resolve", "--repository", "@tag", "app"}, 2, `resolve: --repository: parsing repository "@tag": no URL`, ""},
		{[]string{"completion", "fsh"}, 2, `completion: no script for shell "fsh"`, ""},
		{[]string{"mkfs", m.home, "-o", img, "--block-size", "2048"}, 2, "block size 2048 is not 1024 or 4096", ""},
		{[]string{"mkfs", m.home, "-o", img, "--journal-blocks", "5"}, 2, "journal of 5 blocks is below the minimum", ""},
		{[]string{"mkfs", m.home, "-o", img, "--size", "12Q"}, 2, `parsing --size: "12Q"`, ""},
		{[]string{"mkfs", m.home, "-o", img, "--uuid", "nope"}, 2, "parsing --uuid", ""},
		{[]string{"mkfs", m.home, "-o", img, "--owner", "root"}, 2, "parsing --owner", ""},
		{[]string{"--version"}, 0, "", "revision: "},
		{[]string{"version"}, 0, "", "revision: "},
		{[]string{"help", "build"}, 0, "", "--no-shrink"},
		{[]string{"help", "mkfs"}, 0, "", "SRC_DIR"},
		{[]string{"help"}, 0, "", "--profile"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := runCmd(t, m.command(t, nil, tt.args...))
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if stderr == "" {
				lines = nil
			}
			switch {
			case code != tt.code,
				tt.stderr == "" && len(lines) != 0,
				tt.stderr != "" && (len(lines) != 1 || !containsInOrder(lines[0], strings.Split(tt.stderr, "…"))),
				!strings.Contains(stdout, tt.stdout):
				t.Errorf("rootfs-synth %s = exit %d, stderr %q, stdout %.200q; want exit %d, stderr one line containing %q, stdout containing %q",
					strings.Join(tt.args, " "), code, stderr, stdout, tt.code, tt.stderr, tt.stdout)
			}
		})
	}
}

// containsInOrder reports whether s contains each of parts, in order.
func containsInOrder(s string, parts []string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}
