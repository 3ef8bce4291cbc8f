package files

import (
	"errors"
	"fmt"
	"strings"
)

// SessionEnvPath is the session environment file the guest's chain reads
// (RootShell for logins and `ssh host cmd`, /etc/profile.d for other
// login shells), and SessionEnvPerm its permission bits: its values are
// often credentials.
const (
	SessionEnvPath = "/etc/sbx/session-env.sh"
	SessionEnvPerm = 0o600
)

// EnvVar is one variable of the session environment.
type EnvVar struct {
	Name, Value string
}

// SessionEnv is the content of SessionEnvPath that exports vars, in their
// order: one `export NAME='VALUE'` line each, the value single-quoted for
// sh (a quote inside is closed, escaped and reopened), so that quotes, $,
// backquotes, backslashes and newlines reach the guest's sessions
// verbatim. A name must be a shell
// variable name (letters, digits and _, not starting with a digit); a
// value cannot hold a NUL byte (no environment can).
func SessionEnv(vars []EnvVar) ([]byte, error) {
	var b strings.Builder
	b.WriteString("# /etc/sbx/session-env.sh: the sandbox's session environment, written by\n" +
		"# rootfs-synth patch (one export line per variable, quoted for sh).\n")
	for _, v := range vars {
		if err := checkEnvName(v.Name); err != nil {
			return nil, err
		}
		if strings.IndexByte(v.Value, 0) >= 0 {
			return nil, fmt.Errorf("session variable %s: a NUL byte in the value", v.Name)
		}
		b.WriteString("export " + v.Name + "='" + strings.ReplaceAll(v.Value, "'", `'\''`) + "'\n")
	}
	return []byte(b.String()), nil
}

// checkEnvName refuses what sh's export would (it would make the whole
// file fail, and the chain skip it).
func checkEnvName(name string) error {
	if name == "" {
		return errors.New("session variable: empty name")
	}
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Errorf("session variable %q: not a shell variable name (letters, digits and _, not starting with a digit)", name)
		}
	}
	return nil
}
