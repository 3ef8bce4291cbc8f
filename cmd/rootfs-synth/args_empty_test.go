package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// TestEmptyFlagValue: every flag that takes a value, of every command,
// given an empty one (`-o ""`, `--lock=`) is a usage error naming the
// flag, not a silent default. The flags come from the App itself, so a
// new flag is covered without touching this test.
func TestEmptyFlagValue(t *testing.T) {
	// Without the rule a run would build: keep it away from the real home.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", home)
	app := newApp(time.Unix(1700000000, 0))
	levels := []struct {
		command string
		flags   []cli.Flag
	}{{"", app.Flags}}
	for _, c := range app.Commands {
		levels = append(levels, struct {
			command string
			flags   []cli.Flag
		}{c.Name, c.Flags})
	}
	tested := 0
	for _, l := range levels {
		for _, f := range l.flags {
			d, ok := f.(cli.DocGenerationFlag)
			if !ok || !d.TakesValue() {
				continue
			}
			for _, name := range f.Names() {
				dash := "--"
				if len(name) == 1 {
					dash = "-"
				}
				for _, args := range [][]string{{dash + name, ""}, {dash + name + "="}} {
					if l.command != "" {
						args = append([]string{l.command}, args...)
					}
					var stderr bytes.Buffer
					code := run(context.Background(), newApp(time.Unix(1700000000, 0)), args, &stderr)
					want := dash + name
					if code != 2 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), want+`: empty value`) {
						t.Errorf("rootfs-synth %q = exit %d, stderr %q; want exit 2 and one line naming %s with an empty value", args, code, stderr.String(), want)
					}
					tested++
				}
			}
		}
	}
	if tested < 40 {
		t.Errorf("tried %d empty flag values, want every value flag of every command (at least 40)", tested)
	}
	// The control: the same flags with a value pass the rule.
	for _, args := range [][]string{{"-o", "x.ext4"}, {"--lock=r.json"}, {"mkfs", "--owner", "0:0", "-o", "x.ext4", "src"}} {
		if _, err := arrangeArgs(app, args); err != nil {
			t.Errorf("arrangeArgs(%q) = %v, want no error", args, err)
		}
	}
}

// TestResolveMalformedAtom: `resolve` refuses an atom whose operator apk
// would fold (">>=") as a usage error naming it, before any index is
// fetched.
func TestResolveMalformedAtom(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var stderr bytes.Buffer
	args := []string{"resolve", "--offline", "--repository", t.TempDir(), "musl>>=1"}
	code := run(context.Background(), newApp(time.Unix(1700000000, 0)), args, &stderr)
	if code != 2 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), `"musl>>=1"`) {
		t.Errorf("rootfs-synth %q = exit %d, stderr %q; want exit 2 and one line naming the atom", args, code, stderr.String())
	}
}
