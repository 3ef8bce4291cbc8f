package files

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeferredScripts runs sbx-deferred-scripts on a directory as the
// build writes it: the scripts run in lexical order, each once, from /,
// with only PATH in the environment, stdin from /dev/null and the
// arguments of its .args file; a failure is reported and the next runs;
// the console (stderr) says what ran, the log holds the output, and a
// second run does nothing at all (negative control of the first: the same
// scripts, left pending, would run again).
func TestDeferredScripts(t *testing.T) {
	root := guestRoot(t)
	dir := filepath.Join(root, strings.TrimPrefix(DeferredScriptsDir, "/"))
	ran := filepath.Join(root, "ran")
	log := filepath.Join(root, "var/log/sbx-deferred-scripts.log")
	done := filepath.Join(root, "var/lib/rootfs-synth/deferred-scripts.done")
	script := func(name, body string) {
		write(t, filepath.Join(dir, name), rooted(root, "#!/bin/sh\n")+body, 0o755)
	}
	mark := `echo "${0##*/} [$*] cwd=$(pwd) home=${HOME-unset}" >>` + ran + "\n"
	script("001-fontconfig-2.15.0-r3.post-install", mark+"echo output of fontconfig\n")
	write(t, filepath.Join(dir, "001-fontconfig-2.15.0-r3.post-install.args"), "2.15.0-r3\n", 0o644)
	script("002-mkfontscale-1.2.3-r0.trigger", mark+"exit 3\n")
	write(t, filepath.Join(dir, "002-mkfontscale-1.2.3-r0.trigger.args"), "/usr/share/fonts/misc\n/usr/share/fonts/a b\n", 0o644)
	script("003-stdin-1.0-r0.post-install", mark+"if read line; then echo stdin was not /dev/null >>"+ran+"; fi\n")

	run := func() (string, string) {
		t.Helper()
		cmd := guestCmd(t, root, []string{"HOME=/root-of-the-runner"}, root+"/usr/local/sbin/sbx-deferred-scripts")
		cmd.Stdin = strings.NewReader("a line on stdin\n")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("sbx-deferred-scripts: %v, want exit status 0\nstderr: %s", err, &stderr)
		}
		if stdout.Len() != 0 {
			t.Errorf("stdout = %q, want nothing (script output goes to the log)", &stdout)
		}
		return stderr.String(), readOr(ran)
	}
	stderr, got := run()
	want := "001-fontconfig-2.15.0-r3.post-install [2.15.0-r3] cwd=/ home=unset\n" +
		"002-mkfontscale-1.2.3-r0.trigger [/usr/share/fonts/misc /usr/share/fonts/a b] cwd=/ home=unset\n" +
		"003-stdin-1.0-r0.post-install [] cwd=/ home=unset\n"
	if got != want {
		t.Errorf("scripts ran as\n%s\nwant\n%s", got, want)
	}
	for _, msg := range []string{
		"sbx-deferred-scripts: running 001-fontconfig-2.15.0-r3.post-install 2.15.0-r3\n",
		"sbx-deferred-scripts: 002-mkfontscale-1.2.3-r0.trigger failed with status 3\n",
		"sbx-deferred-scripts: ran 3 package scripts deferred by the image build",
	} {
		if !strings.Contains(stderr, msg) {
			t.Errorf("stderr =\n%s\nwant it to contain %q", stderr, msg)
		}
	}
	if logged := readOr(log); !strings.Contains(logged, "running 001-fontconfig-2.15.0-r3.post-install 2.15.0-r3\noutput of fontconfig\n") {
		t.Errorf("log =\n%s\nwant each script's line followed by its output", logged)
	}
	wantDone := "001-fontconfig-2.15.0-r3.post-install\n002-mkfontscale-1.2.3-r0.trigger\n003-stdin-1.0-r0.post-install\n"
	if got := readOr(done); got != wantDone {
		t.Errorf("done list = %q, want %q", got, wantDone)
	}

	// The second boot: nothing runs, nothing is said.
	stderr, got = run()
	if got != want || stderr != "" {
		t.Errorf("second run: ran\n%s\nstderr %q; want nothing run again and nothing said", got, stderr)
	}
	// A new script (a later patch) runs; the done ones stay done.
	script("004-late-1.0-r0.post-install", mark)
	stderr, got = run()
	if want := want + "004-late-1.0-r0.post-install [] cwd=/ home=unset\n"; got != want || !strings.Contains(stderr, "ran 1 package script deferred") {
		t.Errorf("third run with one new script: ran\n%s\nstderr %q; want only the new one", got, stderr)
	}
}

// TestDeferredScriptsReadOnly: where the done list cannot be written (a
// read-only root), nothing runs, one line says so, and the status is 0;
// no directory at all is no work and no output.
func TestDeferredScriptsReadOnly(t *testing.T) {
	root := guestRoot(t)
	dir := filepath.Join(root, strings.TrimPrefix(DeferredScriptsDir, "/"))
	ran := filepath.Join(root, "ran")
	prog := root + "/usr/local/sbin/sbx-deferred-scripts"
	out, err := guestCmd(t, root, nil, prog).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("sbx-deferred-scripts without the directory = %q, %v, want no output and status 0", out, err)
	}
	write(t, filepath.Join(dir, "001-x-1.0-r0.post-install"), rooted(root, "#!/bin/sh\n")+"echo ran >"+ran+"\n", 0o755)
	out, err = guestCmd(t, root, []string{"SBX_DEFERRED_DONE=/proc/no-such-dir/done"}, prog).CombinedOutput()
	want := "sbx-deferred-scripts: cannot write /proc/no-such-dir/done (read-only root?); 1 package script left for the next read-write boot\n"
	if err != nil || string(out) != want {
		t.Errorf("sbx-deferred-scripts on a read-only root = %q, %v, want %q and status 0", out, err, want)
	}
	if got := readOr(ran); got != "" {
		t.Errorf("a script ran on a read-only root: %q", got)
	}
}

// TestDeferredScriptsWired: the runner reads DeferredScriptsDir, and
// inittab runs it as a sysinit step after sbx-boot start (so / is
// read-write) and so before the start hooks (a "once" line, started only
// after every sysinit step).
func TestDeferredScriptsWired(t *testing.T) {
	runner, err := readGuest("usr/local/sbin/sbx-deferred-scripts")
	if err != nil {
		t.Fatal(err)
	}
	if want := "dir=${1:-" + DeferredScriptsDir + "}"; !strings.Contains(runner, want) {
		t.Errorf("sbx-deferred-scripts does not default to DeferredScriptsDir (%q)", want)
	}
	inittab, err := readGuest("etc/inittab")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, line := range strings.Split(inittab, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			actions = append(actions, line)
		}
	}
	boot, deferred, hooks := -1, -1, -1
	for i, a := range actions {
		switch a {
		case "::sysinit:/usr/local/sbin/sbx-boot start":
			boot = i
		case "::sysinit:/usr/local/sbin/sbx-deferred-scripts":
			deferred = i
		case "::once:/usr/local/bin/sbx-start-hooks":
			hooks = i
		}
	}
	if !(boot >= 0 && deferred == boot+1 && hooks > deferred) {
		t.Errorf("inittab lines %q: want sbx-boot start, then sbx-deferred-scripts as sysinit, then the start hooks", actions)
	}
}

func readOr(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestDeferredScriptsTimeout: a script that hangs is stopped after
// SBX_DEFERRED_TIMEOUT seconds (sysinit waits for the runner, so a hang
// would hold the boot for good), reported, marked done, and the next one
// runs.
func TestDeferredScriptsTimeout(t *testing.T) {
	root := guestRoot(t)
	dir := filepath.Join(root, strings.TrimPrefix(DeferredScriptsDir, "/"))
	ran := filepath.Join(root, "ran")
	write(t, filepath.Join(dir, "001-hangs-1.0-r0.post-install"), rooted(root, "#!/bin/sh\n")+"exec sleep 60\n", 0o755)
	write(t, filepath.Join(dir, "002-next-1.0-r0.post-install"), rooted(root, "#!/bin/sh\n")+"echo next >"+ran+"\n", 0o755)
	out, err := guestCmd(t, root, []string{"SBX_DEFERRED_TIMEOUT=1"}, root+"/usr/local/sbin/sbx-deferred-scripts").CombinedOutput()
	if err != nil {
		t.Fatalf("sbx-deferred-scripts: %v\n%s", err, out)
	}
	if want := "001-hangs-1.0-r0.post-install did not finish within 1 s"; !strings.Contains(string(out), want) {
		t.Errorf("output =\n%s\nwant it to contain %q", out, want)
	}
	if got := readOr(ran); got != "next\n" {
		t.Errorf("the script after the hanging one left %q, want it run", got)
	}
	if got := readOr(filepath.Join(root, "var/lib/rootfs-synth/deferred-scripts.done")); !strings.HasPrefix(got, "001-hangs-1.0-r0.post-install\n") {
		t.Errorf("done list = %q, want the stopped script in it", got)
	}
}
