package files

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// The tests run the guest scripts under busybox sh on the host, where chroot
// is not available to an ordinary user. So a guest root is emulated: the
// files are copied below a temporary directory with every absolute guest
// path in them (/etc, /usr, /bin, /sbin, /root, /var, /run) prefixed by that
// directory, and its bin/ holds a link to the host's static busybox for each
// applet. The shipped files keep their absolute guest paths; only the copies
// are rewritten. /dev and /proc stay the host's.

var guestPath = regexp.MustCompile(`(^|[^A-Za-z0-9_./])/(etc|usr|bin|sbin|root|var|run)\b`)

// rooted rewrites the absolute guest paths in a script to lie below root.
func rooted(root, script string) string {
	return guestPath.ReplaceAllString(script, "${1}"+root+"/${2}")
}

func TestRooted(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"#!/bin/sh\n", "#!/R/bin/sh\n"},
		{"[ -r /etc/sbx/session-env.sh ]", "[ -r /R/etc/sbx/session-env.sh ]"},
		{"PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin", "PATH=/R/usr/local/sbin:/R/usr/local/bin:/R/sbin:/R/bin"},
		{`"$SHELL" != /usr/local/bin/sbx-shell`, `"$SHELL" != /R/usr/local/bin/sbx-shell`},
		{">/dev/null 2>&1 /proc/cmdline", ">/dev/null 2>&1 /proc/cmdline"},
		{"a/etc/b ./bin/x /etcetera", "a/etc/b ./bin/x /etcetera"},
		{"(. /etc/x)", "(. /R/etc/x)"},
		{"dir=${1:-/etc/sbx/start.d}", "dir=${1:-/R/etc/sbx/start.d}"},
	} {
		if got := rooted("/R", tc.in); got != tc.want {
			t.Errorf("rooted(/R, %q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// guestRoot makes an emulated guest root holding the guest files (rewritten
// with rooted), bin/<applet> links to busybox for every applet it has, and
// etc/profile: Alpine's real one (v3.20.3, unchanged since), rewritten too.
// A login shell still reads the host's /etc/profile first; $HOME/.profile,
// which it reads next, sources the guest's.
func guestRoot(t *testing.T) string {
	t.Helper()
	busybox := testenv.Tool(t, "busybox")
	// Not t.TempDir: its name comes from the test's and may hold characters
	// sh would parse once the path is written into a script.
	root, err := os.MkdirTemp("", "sbx-guest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	err = fs.WalkDir(FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		p := filepath.Join(root, name)
		if d.IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			return os.Chmod(p, info.Mode().Perm()|0o700)
		}
		data, err := fs.ReadFile(FS(), name)
		if err != nil {
			return err
		}
		return os.WriteFile(p, []byte(rooted(root, string(data))), info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, dir := range []string{"bin", "var/log"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, applet := range strings.Fields(string(out)) {
		if err := os.Symlink(busybox, filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	profile, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "minirootfs-3.20.3", "etc", "profile"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(profile, []byte("/etc/profile.d/*.sh")) {
		t.Fatalf("Alpine's /etc/profile no longer sources /etc/profile.d/*.sh:\n%s", profile)
	}
	write(t, filepath.Join(root, "etc", "profile"), rooted(root, string(profile)), 0o644)
	write(t, filepath.Join(root, "root", ".profile"), ". "+root+"/etc/profile\n", 0o644)
	return root
}

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// guestCmd runs a program of the guest root with a clean environment, as
// sshd would: HOME, SHELL and a PATH without the guest's own directories
// (the guest files must set those up themselves), plus env (guestProgram
// says as whom).
func guestCmd(t *testing.T, root string, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := guestProgram(t, root, name, args...)
	cmd.Env = append([]string{
		"HOME=" + root + "/root",
		"SHELL=" + root + RootShell,
		"PATH=/nonexistent",
		"USER=root",
	}, env...)
	return cmd
}

// guestProgram is the command that runs a program of the guest root, in
// the root, without an environment. When the tests run as root (CI), the
// root is given to nobody and the program runs as nobody: a guest script
// whose path the rewriting missed must not write the host as root.
func guestProgram(t *testing.T, root, name string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() == 0 {
		chownTree(t, root, testenv.NobodyUID, testenv.NobodyGID)
	}
	cmd := testenv.Unprivileged(t, name, args...)
	cmd.Env = []string{}
	cmd.Dir = root
	return cmd
}

// chownTree gives everything below root, root included, to uid:gid.
func chownTree(t *testing.T, root string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}
