package files

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// hardValues are values a naive writer breaks: quotes of both kinds, $
// and backquote expansions, backslashes, newlines (also trailing), an
// empty value, a leading dash, non-ASCII.
var hardValues = []string{
	`plain`,
	`it's "quoted"`,
	`$HOME ${PATH} $(echo no) ` + "`echo no`",
	`back\slash\n\\`,
	"two\nlines\n",
	"'''",
	"",
	"-n",
	"ünïcødé\t tab",
}

// TestSessionEnvVerbatim: what SessionEnv writes reaches both paths of
// the guest's chain — root's shell with -c (ssh host cmd) and a login
// shell — with every value byte for byte. Negative control: the same
// values written with double quotes, as a naive writer would, do not.
func TestSessionEnvVerbatim(t *testing.T) {
	var vars []EnvVar
	for i, v := range hardValues {
		vars = append(vars, EnvVar{Name: "SBX_V" + string(rune('A'+i)), Value: v})
	}
	script, err := SessionEnv(vars)
	if err != nil {
		t.Fatal(err)
	}
	var naive strings.Builder
	for _, v := range vars {
		naive.WriteString("export " + v.Name + "=\"" + v.Value + "\"\n")
	}
	for _, tc := range []struct {
		name, script string
		verbatim     bool // every value must arrive; else at least one must not
	}{
		{"SessionEnv", string(script), true},
		{"naive double quotes (negative control)", naive.String(), false},
	} {
		lost := 0
		root := guestRoot(t)
		write(t, filepath.Join(root, "etc/sbx/session-env.sh"), tc.script, 0o600)
		for _, v := range vars {
			// Each value framed by brackets, so trailing newlines count.
			probe := `printf '[%s]' "$` + v.Name + `"`
			for _, path := range []struct {
				name  string
				args  []string
				stdin string
			}{
				{"ssh command", []string{"-c", probe}, ""},
				{"login shell", nil, probe + "\n"},
			} {
				cmd := guestCmd(t, root, nil, root+RootShell, path.args...)
				cmd.Stdin = strings.NewReader(path.stdin)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				got, want := stdout.String(), "["+v.Value+"]"
				if err != nil || got != want {
					lost++
					if tc.verbatim {
						t.Errorf("%s, %s: $%s = %q (%v, stderr %q), want %q", tc.name, path.name, v.Name, got, err, stderr.String(), want)
					}
				}
			}
		}
		if !tc.verbatim && lost == 0 {
			t.Errorf("%s: every value arrived verbatim; the test cannot tell a broken writer", tc.name)
		}
	}
}

func TestSessionEnvNames(t *testing.T) {
	for _, tt := range []struct {
		name, value string
		want        string // "" for no error
	}{
		{"FOO", "x", ""},
		{"_f00", "x", ""},
		{"PATH", "/x:$PATH", ""},
		{"", "x", "empty name"},
		{"1BAD", "x", "not a shell variable name"},
		{"A-B", "x", "not a shell variable name"},
		{"A B", "x", "not a shell variable name"},
		{"NUL", "a\x00b", "NUL byte"},
	} {
		_, err := SessionEnv([]EnvVar{{tt.name, tt.value}})
		if got := err == nil; got != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SessionEnv(%q=%q) = %v, want %q", tt.name, tt.value, err, tt.want)
		}
	}
}
