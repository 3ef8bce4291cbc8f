package files

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// probe is the value `sbx start` would write; the quoting is the writer's
// job, and this one needs it (spaces, quotes, a $).
const (
	probeValue = `it works "quoted" $NOT_EXPANDED`
	probeLine  = `export SBX_PROBE='it works "quoted" $NOT_EXPANDED'` + "\n"
	probeEcho  = `printf '%s' "$SBX_PROBE"`
)

// TestSessionEnv proves that a variable written to /etc/sbx/session-env.sh
// reaches the two ways a sandbox is used: a login shell (what `ssh host`
// and the console give) and the command path of `ssh host cmd`, which is
// root's passwd shell run as `$SHELL -c cmd`, neither login nor interactive.
// Negative controls: the file as shipped sets nothing; the seed's mechanism
// (loading the file in ~/.ssh/rc, which sshd runs in a shell of its own)
// does not deliver it to the command; a broken file is skipped with a
// warning instead of breaking every session.
func TestSessionEnv(t *testing.T) {
	shipped, err := readGuest("etc/sbx/session-env.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		sessionEnv string   // content of /etc/sbx/session-env.sh
		prog       string   // the shell run, when not RootShell
		args       []string // as sshd calls it
		stdin      string
		shell      string // $SHELL, when not RootShell
		want       string // stdout
		wantStderr string // a substring of stderr; "" means stderr must be empty
	}{
		{name: "ssh command", sessionEnv: shipped + probeLine,
			args: []string{"-c", probeEcho}, want: probeValue},
		{name: "login shell", sessionEnv: shipped + probeLine,
			stdin: probeEcho + "\n", want: probeValue},
		{name: "login shell, explicit -l", sessionEnv: shipped + probeLine,
			args: []string{"-l", "-c", probeEcho}, want: probeValue},
		{name: "login shell that is not sbx-shell: profile.d alone", sessionEnv: shipped + probeLine,
			prog: "/bin/sh", args: []string{"-l"}, stdin: probeEcho + "\n", want: probeValue},
		{name: "login shell, PATH from the session wins over /etc/profile's",
			sessionEnv: shipped + probeLine + "export PATH=/session/bin:$PATH\n",
			stdin:      `printf '%s' "${PATH%%:*}"` + "\n", want: "/session/bin"},
		{name: "ssh command, nothing written (as shipped)", sessionEnv: shipped,
			args: []string{"-c", probeEcho}, want: ""},
		{name: "login shell, nothing written (as shipped)", sessionEnv: shipped,
			stdin: probeEcho + "\n", want: ""},
		{name: "login shell that is not sbx-shell, nothing written", sessionEnv: shipped,
			prog: "/bin/sh", args: []string{"-l"}, stdin: probeEcho + "\n", want: ""},
		{name: "login shell that is not sbx-shell, broken file is skipped", sessionEnv: probeLine + "if then\n",
			prog: "/bin/sh", args: []string{"-l"}, stdin: probeEcho + "; printf ' ran'\n", want: " ran",
			wantStderr: "sbx-session-env: ignoring"},
		{name: "ssh command, broken file is skipped",
			sessionEnv: probeLine + "if then\n",
			args:       []string{"-c", probeEcho + "; printf ' ran'"}, want: " ran",
			wantStderr: "sbx-shell: ignoring"},
		{name: "ssh command, file with a bad export is skipped",
			sessionEnv: probeLine + "export 1BAD=x\n",
			args:       []string{"-c", probeEcho + "; printf ' ran'"}, want: " ran",
			wantStderr: "sbx-shell: ignoring"},
		{name: "ssh command, a failing last line keeps the exports",
			sessionEnv: probeLine + "[ -n \"$SBX_NOPE\" ] && export SBX_OTHER=1\n",
			args:       []string{"-c", probeEcho}, want: probeValue},
		{name: "ssh command, what the file prints goes to stderr, not the data channel",
			sessionEnv: probeLine + "echo banner\n",
			args:       []string{"-c", probeEcho}, want: probeValue, wantStderr: "banner"},
		{name: "ssh command, an exit in the file does not end the session",
			sessionEnv: "exit 0\n",
			args:       []string{"-c", "printf ran"}, want: "ran"},
		{name: "login shell, a read in the file does not eat the session's input",
			sessionEnv: probeLine + "read line\n",
			stdin:      probeEcho + "\n", want: probeValue},
		{name: "ssh command runs ~/.ssh/rc silently", sessionEnv: shipped + probeLine,
			args: []string{"-c", "/bin/sh /root/.ssh/rc"}, want: ""},
		{name: "~/.ssh/rc warns when root's shell is not sbx-shell", sessionEnv: shipped + probeLine,
			args: []string{"-c", "/bin/sh /root/.ssh/rc"}, shell: "/bin/sh", want: "",
			wantStderr: "is not loaded for this session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := guestRoot(t)
			write(t, filepath.Join(root, "etc/sbx/session-env.sh"), tc.sessionEnv, 0o600)
			var env []string
			if tc.shell != "" {
				env = []string{"SHELL=" + root + tc.shell}
			}
			prog := RootShell
			if tc.prog != "" {
				prog = tc.prog
			}
			cmd := guestCmd(t, root, env, root+prog, rootedArgs(root, tc.args)...)
			cmd.Stdin = strings.NewReader(tc.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("sbx-shell %q: %v\nstderr: %s", tc.args, err, &stderr)
			}
			if got := stdout.String(); got != tc.want {
				t.Errorf("sbx-shell %q with stdin %q: stdout = %q, want %q\nstderr: %s", tc.args, tc.stdin, got, tc.want, &stderr)
			}
			switch got := stderr.String(); {
			case tc.wantStderr == "" && got != "":
				t.Errorf("sbx-shell %q: stderr = %q, want it empty", tc.args, got)
			case !strings.Contains(got, tc.wantStderr):
				t.Errorf("sbx-shell %q: stderr = %q, want it to contain %q", tc.args, got, tc.wantStderr)
			}
		})
	}
}

// TestSessionEnvSeedMechanismFails shows why ~/.ssh/rc cannot carry the
// session environment: sshd runs the rc file and then the command in two
// separate shells, so what the first exports is gone in the second. This is
// the seed's design with /bin/sh as root's shell.
func TestSessionEnvSeedMechanismFails(t *testing.T) {
	root := guestRoot(t)
	shipped, err := readGuest("etc/sbx/session-env.sh")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "etc/sbx/session-env.sh"), shipped+probeLine, 0o600)
	seedRC := filepath.Join(root, "seed-rc")
	write(t, seedRC, rooted(root, ". /etc/sbx/session-env.sh\n"), 0o644)
	env := []string{"SHELL=" + root + "/bin/sh"}
	sh := root + "/bin/sh"
	// What sshd runs for the rc file (as a check that it does load the
	// variable), then for the command.
	rc, err := guestCmd(t, root, env, sh, "-c", sh+" -c '. "+seedRC+"; "+probeEcho+"'").Output()
	if err != nil || string(rc) != probeValue {
		t.Fatalf("the seed's rc file itself sees SBX_PROBE = %q, %v, want %q", rc, err, probeValue)
	}
	if err := guestCmd(t, root, env, sh, "-c", sh+" "+seedRC).Run(); err != nil {
		t.Fatalf("running the seed's rc file: %v", err)
	}
	got, err := guestCmd(t, root, env, sh, "-c", probeEcho).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "" {
		t.Errorf("with only ~/.ssh/rc loading the file, the command saw SBX_PROBE = %q, want it unset", got)
	}
}

func readGuest(name string) (string, error) {
	data, err := fs.ReadFile(FS(), name)
	return string(data), err
}

// rootedArgs rewrites guest paths in arguments, as rooted does in files.
func rootedArgs(root string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = rooted(root, a)
	}
	return out
}
