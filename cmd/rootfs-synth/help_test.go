//go:build linux

package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestHelpLayout: the help fits the width it is given (COLUMNS, else 80)
// without breaking a word, its flag column is narrow, a flag says its
// default once, and the build's USAGE advertises no command.
func TestHelpLayout(t *testing.T) {
	m := &mirror{home: testenv.WorldDir(t)}
	for _, columns := range []string{"", "100"} {
		for _, args := range [][]string{{"--help"}, {"help", "build"}, {"mkfs", "--help"}, {"help", "fetch"}} {
			name := strings.Join(args, " ") + " COLUMNS=" + columns
			cmd := m.command(t, nil, args...)
			cmd.Env = append(cmd.Env, "COLUMNS="+columns)
			out, stderr, code := runCmd(t, cmd)
			if code != 0 {
				t.Fatalf("rootfs-synth %s = exit %d, stderr %q", name, code, stderr)
			}
			width := 80
			if columns != "" {
				width = 100
			}
			tokens := map[string]bool{}
			for _, l := range strings.Split(out, "\n") {
				if len(l) > width {
					t.Errorf("rootfs-synth %s: line of %d characters, want at most %d: %q", name, len(l), width, l)
				}
				trimmed := strings.TrimLeft(l, " ")
				if strings.HasPrefix(trimmed, "-") && len(l)-len(trimmed) == 3 {
					if col := strings.Index(trimmed, "  "); col > 28 {
						t.Errorf("rootfs-synth %s: flag column %d wide, want at most 28: %q", name, col, l)
					}
				}
				for _, f := range strings.Fields(l) {
					tokens[f] = true
				}
			}
			// No word is broken: each word of each flag's usage is a word
			// of the help.
			flags := rootFlags()
			if args[0] != "--help" && args[1] != "build" || args[0] == "mkfs" {
				flags = nil
			}
			for _, f := range flags {
				for _, w := range strings.Fields(strings.ReplaceAll(f.(cli.DocGenerationFlag).GetUsage(), "`", "")) {
					if !tokens[w] {
						t.Errorf("rootfs-synth %s: the word %q of %s's usage is not whole in the help", name, w, f.Names()[0])
					}
				}
			}
			if args[0] == "--help" || args[1] == "build" {
				if got := strings.Count(out[strings.Index(out, "--no-shrink"):strings.Index(out, "--image-name")], "default"); got != 1 {
					t.Errorf("rootfs-synth %s: --no-shrink says %d defaults, want 1:\n%s", name, got, out)
				}
				usage := out[strings.Index(out, "USAGE:"):]
				usage = usage[:strings.Index(usage, "\n\n")]
				if !strings.Contains(usage, "rootfs-synth [OPTIONS]") || strings.Contains(usage, "command [command options]") {
					t.Errorf("rootfs-synth %s: USAGE is\n%s\nwant the build as `rootfs-synth [OPTIONS]` and no command advertised for it", name, usage)
				}
			}
		}
	}
}

// TestWrapHelp: lines longer than the width wrap at spaces, continued
// under the text's column.
func TestWrapHelp(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"   --a X  one two three\n", 20, "   --a X  one two\n          three\n"},
		{"   short\n", 20, "   short\n"},
		{"   plain text that is long\n", 12, "   plain\n   text that\n   is long\n"},
		{"   word\n", 4, "   word\n"}, // a word longer than the width stays whole
		// A paragraph with a line too long is reflowed whole; one that
		// fits keeps its breaks; a column line is not part of one.
		{"   aaa bbb ccc\n   ddd\n\n   eee\n", 12, "   aaa bbb\n   ccc ddd\n\n   eee\n"},
		{"   aaa\n   bbb\n", 12, "   aaa\n   bbb\n"},
		{"   aaa bbb ccc\n   -x  ddd\n", 12, "   aaa bbb\n   ccc\n   -x  ddd\n"},
	}
	for _, tt := range tests {
		if got := wrapHelp(tt.in, tt.width); got != tt.want {
			t.Errorf("wrapHelp(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}
