package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// OtherUID and OtherGID are a second unprivileged user's ids, for tests
// where one local user attacks another (NobodyUID) through something they
// share.
const OtherUID, OtherGID = 65533, 65533

// AsUser returns a command that runs name with args as the user uid (group
// gid, no supplementary groups), through setpriv. Only root can switch to
// an arbitrary user, so the test skips (fails in CI, which runs as root)
// when it does not run as root.
func AsUser(t testing.TB, uid, gid int, name string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "running as uid %d needs root (CI runs the tests as root)", uid)
	}
	setpriv := Tool(t, "setpriv")
	full := append([]string{"--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--clear-groups", "--", name}, args...)
	return exec.Command(setpriv, full...)
}
