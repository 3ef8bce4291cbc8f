package files

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The boot scripts mount and unmount filesystems, set the hostname and stop
// every process: run for real on the host, as root, they would take the
// machine down. So they run like this, with two guards:
//
//   - every command that changes the machine is a shell function defined
//     before the script is sourced, which logs its arguments instead
//     (mountpoint answers from what the fake mount "mounted"). Functions
//     win over PATH and over busybox's own applets, which Debian's static
//     busybox runs in preference to PATH (so stub programs in PATH would
//     not be used); the stub file checks each is a function before
//     anything runs;
//   - when the tests run as root the script runs as nobody (setpriv), so
//     that anything a stub missed fails with EPERM instead of acting.
//
// The root is guestRoot's with /proc, /sys and /dev rewritten too (but
// /dev/null kept).

var bootPath = regexp.MustCompile(`(^|[^A-Za-z0-9_./])/(etc|usr|bin|sbin|root|var|run|proc|sys|dev)\b`)

// stubbed are the busybox applets the boot scripts may run that change the
// machine.
var stubbed = []string{"mount", "mountpoint", "umount", "swapoff", "swapon", "hostname", "ip", "ifup",
	"ifdown", "syslogd", "klogd", "sync", "killall5", "kill", "sleep", "reboot", "poweroff", "halt",
	"sysctl", "modprobe"}

// bootRoot makes the root, with cmdline as /proc/cmdline and hostname as
// /etc/hostname; proc/filesystems lists cgroup2. It returns the root and
// a function that runs a guest script there (sourced after the stubs, with
// args as its arguments) and returns its stub calls (with the root written
// as "R"), stderr, and the error of the run.
func bootRoot(t *testing.T, cmdline, hostname string) (string, func(prog string, args ...string) ([]string, string, error)) {
	t.Helper()
	root := guestRoot(t)
	for _, name := range []string{"usr/sbin/sbx-init", "usr/local/sbin/sbx-boot", "usr/local/sbin/sbx-sshd"} {
		data, err := readGuest(name)
		if err != nil {
			t.Fatal(err)
		}
		script := bootPath.ReplaceAllString(data, "${1}"+root+"/${2}")
		script = strings.ReplaceAll(script, root+"/dev/null", "/dev/null")
		write(t, filepath.Join(root, name), script, 0o755)
	}
	calls, mounted, failMount := root+"/calls", root+"/mounted", root+"/fail-mount"
	var stubs strings.Builder
	stubs.WriteString("_log() { echo \"$*\" >>" + calls + "; }\n")
	for _, name := range stubbed {
		body := ""
		switch name {
		case "mountpoint":
			body = `grep -qxF -- "$2" ` + mounted + ` 2>/dev/null`
		case "mount":
			body = `for last; do :; done; if grep -qxF -- "$last" ` + failMount + ` 2>/dev/null; then return 32; fi; echo "$last" >>` + mounted
		}
		if body != "" {
			body = "; " + body
		}
		fmt.Fprintf(&stubs, "%s() { _log %s \"$@\"%s; }\n", name, name, body)
	}
	for _, name := range stubbed {
		fmt.Fprintf(&stubs, "case $(type %s) in *function*) ;; *) echo \"stub %s is not a function\" >&2; exit 99 ;; esac\n", name, name)
	}
	write(t, filepath.Join(root, "stubs.sh"), stubs.String(), 0o644)
	// Programs the scripts exec by path: stub files.
	fileStub := "#!" + root + "/bin/sh\necho \"${0##*/} $*\" >>" + calls + "\n"
	write(t, filepath.Join(root, "sbin/init"), fileStub, 0o755)
	// ssh-keygen is no busybox applet (and no valid function name), so a
	// stub in PATH is used.
	// ssh-keygen -A [-f PREFIX] makes PREFIX/etc/ssh/ssh_host_ed25519_key,
	// unless R/fail-keygen exists, or R/ro-etc and there is no PREFIX;
	// like the real one, it exits 0 when it could not save a key.
	write(t, filepath.Join(root, "usr/bin/ssh-keygen"), fileStub+
		"prefix="+root+"; [ \"$2\" = -f ] && prefix=$3\n"+
		"[ -e "+root+"/fail-keygen ] && exit 0\n"+
		"[ -e "+root+"/ro-etc ] && [ \"$2\" != -f ] && exit 0\n"+
		"mkdir -p $prefix/etc/ssh && : >$prefix/etc/ssh/ssh_host_ed25519_key\n", 0o755)
	write(t, filepath.Join(root, "proc/cmdline"), cmdline+"\n", 0o644)
	write(t, filepath.Join(root, "proc/filesystems"), "nodev\tsysfs\nnodev\tproc\n\text4\nnodev\tcgroup2\n", 0o644)
	write(t, filepath.Join(root, "etc/hostname"), hostname, 0o644)
	write(t, mounted, "", 0o644)
	for _, dir := range []string{"dev", "sys", "run", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(prog string, args ...string) ([]string, string, error) {
		os.Remove(calls)
		script := ". " + root + "/stubs.sh && . " + root + prog
		cmd := guestProgram(t, root, root+"/bin/sh", append([]string{"-c", script, "sh"}, args...)...)
		cmd.Env = []string{"HOME=" + root + "/root", "PATH=/nonexistent"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := runWithin(cmd, 20*time.Second)
		data, _ := os.ReadFile(calls)
		var got []string
		if len(data) > 0 {
			got = strings.Split(strings.TrimSpace(strings.ReplaceAll(string(data), root, "R")), "\n")
		}
		return got, strings.ReplaceAll(stderr.String(), root, "R"), err
	}
	return root, run
}

// runWithin runs cmd, killing it after d.
func runWithin(cmd *exec.Cmd, d time.Duration) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	timer := time.AfterFunc(d, func() { cmd.Process.Kill() })
	defer timer.Stop()
	return cmd.Wait()
}

const fcCmdline = "console=ttyS0 reboot=k panic=1 root=/dev/vda rw init=/usr/sbin/sbx-init"

// startCalls are the stub calls of a boot with nothing mounted, rw, a
// hostname and no ip= (before syslogd).
var startCalls = []string{
	"mountpoint -q R/proc", "mount -t proc -o nosuid,nodev,noexec proc R/proc",
	"mountpoint -q R/sys", "mount -t sysfs -o nosuid,nodev,noexec sysfs R/sys",
	"mount -o remount,rw /",
	"mountpoint -q R/run", "mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs R/run",
	"mountpoint -q R/dev/pts", "mount -t devpts -o noexec,nosuid,gid=5,mode=0620,ptmxmode=0666 devpts R/dev/pts",
	"mountpoint -q R/dev/shm", "mount -t tmpfs -o nosuid,nodev,noexec,mode=1777 tmpfs R/dev/shm",
	"mountpoint -q R/sys/fs/cgroup", "mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 R/sys/fs/cgroup",
	"hostname sbx-test",
	"ip link set lo up",
}

func TestBootStart(t *testing.T) {
	for _, tc := range []struct {
		name, cmdline, hostname string
		interfaces              bool     // an /etc/network/interfaces exists
		failMount               string   // a mount point whose mount fails
		want                    []string // stub calls
		wantStderr              string
	}{
		{name: "Firecracker boot", cmdline: fcCmdline, hostname: "sbx-test\n",
			want: append(append([]string(nil), startCalls...), "syslogd")},
		{name: "ip= leaves the network to the kernel", cmdline: fcCmdline + " ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off",
			hostname: "sbx-test\n", interfaces: true,
			want: append(append([]string(nil), startCalls...), "syslogd")},
		{name: "interfaces file without ip=", cmdline: fcCmdline, hostname: "sbx-test\n", interfaces: true,
			want: append(append([]string(nil), startCalls...), "ifup -a", "syslogd")},
		{name: "read-only root stays read-only, no hostname", cmdline: "root=/dev/vda ro", hostname: "",
			want: append(append(append([]string(nil), startCalls[:4]...), startCalls[5:13]...), "ip link set lo up", "syslogd")},
		{name: "a failed mount does not stop the boot", cmdline: fcCmdline, hostname: "sbx-test\n",
			failMount: "/proc", want: append(append([]string(nil), startCalls...), "syslogd"),
			wantStderr: "sbx-boot: mounting proc on R/proc failed\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, run := bootRoot(t, tc.cmdline, tc.hostname)
			if tc.interfaces {
				write(t, filepath.Join(root, "etc/network/interfaces"), "auto lo\niface lo inet loopback\n", 0o644)
			}
			if tc.failMount != "" {
				write(t, filepath.Join(root, "fail-mount"), root+tc.failMount+"\n", 0o644)
			}
			got, stderr, err := run("/usr/local/sbin/sbx-boot", "start")
			if err != nil {
				t.Fatalf("sbx-boot start: %v\nstderr: %s", err, stderr)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("sbx-boot start made the calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if stderr != tc.wantStderr {
				t.Errorf("sbx-boot start: stderr = %q, want %q", stderr, tc.wantStderr)
			}
			for link, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
				if got, err := os.Readlink(filepath.Join(root, "dev", link)); err != nil || got != root+target {
					t.Errorf("/dev/%s -> %q, %v, want -> %s", link, got, err, target)
				}
			}
			if st, err := os.Stat(filepath.Join(root, "run/lock")); err != nil || !st.IsDir() {
				t.Errorf("/run/lock: %v, want a directory", err)
			}
		})
	}
	// Already mounted: nothing is mounted twice.
	root, run := bootRoot(t, fcCmdline, "x\n")
	write(t, filepath.Join(root, "mounted"), root+"/proc\n"+root+"/sys\n"+root+"/dev/pts\n", 0o644)
	got, _, err := run("/usr/local/sbin/sbx-boot")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if strings.HasPrefix(c, "mount ") && (strings.Contains(c, " R/proc") || strings.Contains(c, " R/sys ") || strings.HasSuffix(c, " R/sys") || strings.Contains(c, "R/dev/pts")) {
			t.Errorf("sbx-boot (default step) mounted again: %s", c)
		}
	}
}

func TestBootStop(t *testing.T) {
	_, run := bootRoot(t, fcCmdline, "x\n")
	got, stderr, err := run("/usr/local/sbin/sbx-boot", "stop")
	if err != nil {
		t.Fatalf("sbx-boot stop: %v\nstderr: %s", err, stderr)
	}
	want := []string{"killall5 -TERM", "sleep 1", "killall5 -KILL", "sync", "swapoff -a", "mount -o remount,ro /", "umount -a -r", "sync"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sbx-boot stop made the calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A remount that stays busy is tried three times, a second apart,
	// then reported; the unmounts still run.
	root, run2 := bootRoot(t, fcCmdline, "x\n")
	write(t, filepath.Join(root, "fail-mount"), "/\n", 0o644)
	got, stderr, err = run2("/usr/local/sbin/sbx-boot", "stop")
	want = []string{"killall5 -TERM", "sleep 1", "killall5 -KILL", "sync", "swapoff -a",
		"mount -o remount,ro /", "sleep 1", "mount -o remount,ro /", "sleep 1", "mount -o remount,ro /",
		"umount -a -r", "sync"}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") || !strings.Contains(stderr, "remounting / read-only failed") {
		t.Errorf("sbx-boot stop with / busy made the calls\n%s\nwant\n%s\n(stderr %q, %v)", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr, err)
	}
	got, stderr, err = run("/usr/local/sbin/sbx-boot", "restart")
	if err != nil || got != nil || !strings.Contains(stderr, "unknown step restart") {
		t.Errorf("sbx-boot restart = calls %q, stderr %q, %v, want no calls, a warning and status 0", got, stderr, err)
	}
}

func TestInit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mounted   string // already mounted, one per line
		failMount string
		want      []string
		stderr    string
	}{
		{name: "devtmpfs already there (DEVTMPFS_MOUNT)", mounted: "/dev",
			want: []string{"mountpoint -q R/dev", "mountpoint -q R/dev/pts",
				"mount -t devpts -o noexec,nosuid,gid=5,mode=0620,ptmxmode=0666 devpts R/dev/pts",
				"init console=ttyS0 single"}},
		{name: "no devtmpfs", mounted: "",
			want: []string{"mountpoint -q R/dev", "mount -t devtmpfs -o exec,nosuid,mode=0755 devtmpfs R/dev",
				"mountpoint -q R/dev/pts",
				"mount -t devpts -o noexec,nosuid,gid=5,mode=0620,ptmxmode=0666 devpts R/dev/pts",
				"init console=ttyS0 single"}},
		{name: "devpts already mounted", mounted: "/dev\n/dev/pts",
			want: []string{"mountpoint -q R/dev", "mountpoint -q R/dev/pts", "init console=ttyS0 single"}},
		{name: "devpts mount fails: init still runs", mounted: "/dev", failMount: "/dev/pts",
			want: []string{"mountpoint -q R/dev", "mountpoint -q R/dev/pts",
				"mount -t devpts -o noexec,nosuid,gid=5,mode=0620,ptmxmode=0666 devpts R/dev/pts",
				"init console=ttyS0 single"},
			stderr: "sbx-init: mounting devpts on R/dev/pts failed; continuing\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, run := bootRoot(t, fcCmdline, "x\n")
			var mounted []string
			for _, m := range strings.Fields(tc.mounted) {
				mounted = append(mounted, root+m)
			}
			write(t, filepath.Join(root, "mounted"), strings.Join(mounted, "\n")+"\n", 0o644)
			if tc.failMount != "" {
				write(t, filepath.Join(root, "fail-mount"), root+tc.failMount+"\n", 0o644)
			}
			got, stderr, err := run(InitPath, "console=ttyS0", "single")
			if err != nil {
				t.Fatalf("sbx-init: %v\nstderr: %s", err, stderr)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("sbx-init made the calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if stderr != tc.stderr {
				t.Errorf("sbx-init: stderr = %q, want %q", stderr, tc.stderr)
			}
			if st, err := os.Stat(filepath.Join(root, "dev/pts")); err != nil || !st.IsDir() {
				t.Errorf("/dev/pts: %v, want the directory made", err)
			}
		})
	}
}

func TestSSHD(t *testing.T) {
	root, run := bootRoot(t, fcCmdline, "x\n")
	// Without sshd it must not exit (init would respawn it in a loop):
	// it execs sleep, which the test stops.
	cmd := func() ([]string, string, error) { return run("/usr/local/sbin/sbx-sshd") }
	probe := guestProgram(t, root, root+"/bin/sh", "-c", ". "+root+"/stubs.sh && . "+root+"/usr/local/sbin/sbx-sshd")
	probe.Env = []string{"PATH=/nonexistent"}
	if err := runWithin(probe, 1500*time.Millisecond); err == nil {
		t.Errorf("sbx-sshd without sshd exited (status 0); want it to sleep forever")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Exited() {
		t.Errorf("sbx-sshd without sshd = %v; want it still running when killed", err)
	}
	// The sshd stub fails its -t check when R/fail-sshd-t exists.
	sshd := "#!" + root + "/bin/sh\necho \"${0##*/} $*\" >>" + root + "/calls\n" +
		"[ \"$1\" != -t ] || [ ! -e " + root + "/fail-sshd-t ]\n"
	write(t, filepath.Join(root, "usr/sbin/sshd"), sshd, 0o755)
	got, stderr, err := cmd()
	if want := []string{"ssh-keygen -A", "sshd -t", "sshd -D -e"}; err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sbx-sshd = calls %q, %v, want %q\nstderr: %s", got, err, want, stderr)
	}
	// A configuration sshd -t refuses: no sshd (it would exit at once),
	// a minute's wait.
	write(t, filepath.Join(root, "fail-sshd-t"), "", 0o644)
	got, stderr, err = cmd()
	if want := []string{"ssh-keygen -A", "sshd -t", "sleep 60"}; err == nil || strings.Join(got, "\n") != strings.Join(want, "\n") || !strings.Contains(stderr, "sshd -t failed") {
		t.Errorf("sbx-sshd with a broken configuration = calls %q, stderr %q, %v, want %q, a warning and status 1", got, stderr, err, want)
	}
	if err := os.Remove(filepath.Join(root, "fail-sshd-t")); err != nil {
		t.Fatal(err)
	}
	// Keys made on an earlier boot are used as they are.
	write(t, filepath.Join(root, "ro-etc"), "", 0o644)
	got, stderr, err = cmd()
	if want := []string{"ssh-keygen -A", "sshd -t", "sshd -D -e"}; err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") || stderr != "" {
		t.Errorf("sbx-sshd with keys on a read-only root = calls %q, stderr %q, %v, want %q", got, stderr, err, want)
	}
	// A read-only root without keys: keys for this boot in /run.
	if err := os.RemoveAll(filepath.Join(root, "etc/ssh")); err != nil {
		t.Fatal(err)
	}
	got, stderr, err = cmd()
	want := []string{"ssh-keygen -A", "ssh-keygen -A -f R/run/sbx-sshd",
		"sshd -t -h R/run/sbx-sshd/etc/ssh/ssh_host_ed25519_key", "sshd -D -e -h R/run/sbx-sshd/etc/ssh/ssh_host_ed25519_key"}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") || !strings.Contains(stderr, "using keys made for this boot") {
		t.Errorf("sbx-sshd on a read-only root = calls %q, stderr %q, %v, want %q and a warning", got, stderr, err, want)
	}
	// No keys anywhere: no sshd (it would exit at once), a minute's wait.
	if err := os.RemoveAll(filepath.Join(root, "run/sbx-sshd")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "fail-keygen"), "", 0o644)
	got, stderr, err = cmd()
	want = []string{"ssh-keygen -A", "ssh-keygen -A -f R/run/sbx-sshd", "sleep 60"}
	if err == nil || strings.Join(got, "\n") != strings.Join(want, "\n") || !strings.Contains(stderr, "sshd not started") {
		t.Errorf("sbx-sshd without host keys = calls %q, stderr %q, %v, want %q, a warning and status 1", got, stderr, err, want)
	}
}

// TestStubbedAreApplets: every command the boot scripts get as a stub here
// is an applet of the guest's busybox (v3.23's), so the guest has it even
// where the host's busybox lacks it (Debian's has no mountpoint or killall5).
func TestStubbedAreApplets(t *testing.T) {
	applets := busyboxApplets(t)
	for _, name := range stubbed {
		found := false
		for _, dir := range []string{"bin/", "sbin/", "usr/bin/", "usr/sbin/"} {
			found = found || applets[dir+name]
		}
		if !found {
			t.Errorf("%s is not a busybox 1.37.0-r30 applet", name)
		}
	}
}
