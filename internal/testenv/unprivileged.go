package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// NobodyUID and NobodyGID are the ids Unprivileged drops to when the tests
// run as root (as they do in CI).
const NobodyUID, NobodyGID = 65534, 65534

// Unprivileged returns a command that runs name with args as an ordinary
// user: unchanged when the tests already run as one, and under
// `setpriv --reuid=65534 --regid=65534 --clear-groups` when they run as root,
// so that rootless operation is proven rather than assumed. Files the command
// must read or write have to be accessible to that user (see WorldDir).
func Unprivileged(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		return exec.Command(name, args...)
	}
	setpriv := Tool(t, "setpriv")
	full := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--", name}, args...)
	return exec.Command(setpriv, full...)
}

// WorldDir returns a new temporary directory that an unprivileged user can
// read and write (t.TempDir is 0700 and owned by the test's user). It is
// removed when the test ends.
func WorldDir(t testing.TB) string {
	t.Helper()
	dir, err := worldDirIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// worldDirIn makes a WorldDir below parent ("": the default temporary
// directory).
func worldDirIn(t testing.TB, parent string) (string, error) {
	t.Helper()
	dir, err := os.MkdirTemp(parent, "rootfs-synth-test-")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Sticky like /tmp (os.Chmod takes fs.ModeSticky, not 0o1000): other
	// users cannot rename what they do not own in it, so a cache below it
	// is one only its user can change.
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return dir, nil
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// Binary builds cmd/rootfs-synth once per test process and returns the path
// of the executable, in a directory every user can read.
func Binary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rootfs-synth-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "rootfs-synth")
		cmd := exec.Command("go", "build", "-o", binaryPath, "./cmd/rootfs-synth")
		cmd.Dir = RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = &buildError{out: string(out), err: err}
		}
	})
	if binaryErr != nil {
		t.Fatalf("building rootfs-synth: %v", binaryErr)
	}
	return binaryPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
