package files

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartHooks runs sbx-start-hooks on a directory of hooks that succeed,
// fail, hang, ignore SIGTERM, exit 0 on SIGTERM and are killed by a signal
// at once, with a 1 s limit: every executable hook runs, in lexical order, the bad ones are
// reported and stopped (a killed one as killed, not as timed out), the rest
// are skipped, and the runner exits 0 long before the hanging hooks would
// end.
func TestStartHooks(t *testing.T) {
	root := guestRoot(t)
	hooks := filepath.Join(root, "hooks")
	ran := filepath.Join(root, "ran")
	log := filepath.Join(root, "var/log/hooks.log")
	hook := func(name, body string, mode os.FileMode) {
		write(t, filepath.Join(hooks, name), rooted(root, "#!/bin/sh\n")+body, mode)
	}
	mark := func(name string) string { return "echo " + name + " >>" + ran + "\n" }
	hook("10-first", mark("10-first")+"echo output of 10-first\n", 0o755)
	hook("20-fails", mark("20-fails")+"exit 3\n", 0o755)
	hook("30-hangs", mark("30-hangs")+"exec sleep 60\n", 0o755)
	hook("35-ignores-term", mark("35-ignores-term")+"trap '' TERM\nwhile :; do sleep 1; done\n", 0o755)
	hook("36-exits-on-term", mark("36-exits-on-term")+"trap 'exit 0' TERM\nwhile :; do sleep 1; done\n", 0o755)
	hook("37-killed", mark("37-killed")+"kill -TERM $$\n", 0o755)
	hook("40-not-executable", mark("40-not-executable"), 0o644)
	if err := os.MkdirAll(filepath.Join(hooks, "45-a-directory"), 0o755); err != nil {
		t.Fatal(err)
	}
	hook("9-sorts-after-35", mark("9-sorts-after-35")+"if read line; then echo stdin was not /dev/null; fi\n", 0o755)
	hook("A-upper", mark("A-upper"), 0o755)

	start := time.Now()
	cmd := guestCmd(t, root, []string{"SBX_START_HOOK_TIMEOUT=1", "SBX_START_HOOK_LOG=" + log},
		root+"/usr/local/bin/sbx-start-hooks", hooks)
	cmd.Stdin = strings.NewReader("a line on stdin\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sbx-start-hooks: %v, want exit status 0\nstderr: %s", err, &stderr)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("sbx-start-hooks took %v: the hanging hooks were not stopped", took)
	}

	got, err := os.ReadFile(ran)
	if err != nil {
		t.Fatal(err)
	}
	// Lexical byte order: digits before upper case, "35" before "9".
	want := "10-first\n20-fails\n30-hangs\n35-ignores-term\n36-exits-on-term\n37-killed\n9-sorts-after-35\nA-upper\n"
	if string(got) != want {
		t.Errorf("hooks ran in order\n%s, want\n%s", got, want)
	}
	for _, msg := range []string{
		"/20-fails failed with status 3",
		"/30-hangs did not finish within 1 s",
		"/35-ignores-term did not finish within 1 s",
		"/36-exits-on-term did not finish within 1 s (status 0)",
		"/37-killed was killed by signal 15 (status 143)",
	} {
		if !strings.Contains(stderr.String(), msg) {
			t.Errorf("stderr = %q, want it to report %q", &stderr, msg)
		}
	}
	if strings.Contains(stderr.String(), "37-killed did not finish") {
		t.Errorf("stderr = %q, want the killed hook not reported as timed out", &stderr)
	}
	for _, name := range []string{"10-first", "9-sorts-after-35", "A-upper", "40-not", "45-a-dir"} {
		if strings.Contains(stderr.String(), name) {
			t.Errorf("stderr = %q, want nothing about %s", &stderr, name)
		}
	}
	logged, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"running " + hooks + "/10-first\noutput of 10-first\n", "20-fails failed with status 3"} {
		if !strings.Contains(string(logged), want) {
			t.Errorf("log file =\n%s\nwant it to contain %q", logged, want)
		}
	}
	if strings.Contains(string(logged), "stdin was not /dev/null") {
		t.Errorf("a hook read the runner's stdin; want /dev/null")
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing (hook output goes to the log)", &stdout)
	}
}

// TestStartHooksNoLimit: SBX_START_HOOK_TIMEOUT=0 is no time limit (as
// for GNU timeout), not one second (what busybox timeout makes of 0); so
// are 00 and a number too large for test and timeout, which would not run
// the hook at all; leading zeros do not make a number too large (3 s here).
func TestStartHooksNoLimit(t *testing.T) {
	for _, limit := range []string{"0", "00", "99999999999999999999", "0000000000000000000000000000003"} {
		root := guestRoot(t)
		ran := filepath.Join(root, "ran")
		write(t, filepath.Join(root, "hooks/50-slow"), rooted(root, "#!/bin/sh\n")+"sleep 2\necho done >"+ran+"\n", 0o755)
		out, err := guestCmd(t, root, []string{"SBX_START_HOOK_TIMEOUT=" + limit, "SBX_START_HOOK_LOG=" + filepath.Join(root, "hooks.log")},
			root+"/usr/local/bin/sbx-start-hooks", filepath.Join(root, "hooks")).CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("SBX_START_HOOK_TIMEOUT=%s sbx-start-hooks = %q, %v, want no output and status 0", limit, out, err)
		}
		if got, err := os.ReadFile(ran); string(got) != "done\n" {
			t.Errorf("a 2 s hook with SBX_START_HOOK_TIMEOUT=%s left %q, %v, want it to finish", limit, got, err)
		}
	}
}

// TestStartHooksKilledBeforeLimit: a hook killed by a signal 1.8 s into a
// 2 s limit is reported as killed, not as timed out, though the wall clock
// turned two seconds (started at x.2, killed at x+2.0).
func TestStartHooksKilledBeforeLimit(t *testing.T) {
	root := guestRoot(t)
	write(t, filepath.Join(root, "hooks/50-killed"), rooted(root, "#!/bin/sh\n")+
		"s=$(date +%s)\nwhile [ \"$(date +%s)\" -lt $((s + 2)) ]; do sleep 0.05; done\nkill -TERM $$\n", 0o755)
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(1200 * time.Millisecond).Sub(now))
	out, err := guestCmd(t, root, []string{"SBX_START_HOOK_TIMEOUT=2", "SBX_START_HOOK_LOG=" + filepath.Join(root, "hooks.log")},
		root+"/usr/local/bin/sbx-start-hooks", filepath.Join(root, "hooks")).CombinedOutput()
	if want := "50-killed was killed by signal 15 (status 143)\n"; err != nil || !strings.HasSuffix(string(out), want) {
		t.Errorf("sbx-start-hooks = %q, %v, want it to end with %q", out, err, want)
	}
}

// TestStartHooksEdges: no hook directory is no work, not an error; an
// unwritable log file does not stop the hooks either.
func TestStartHooksEdges(t *testing.T) {
	root := guestRoot(t)
	prog := root + "/usr/local/bin/sbx-start-hooks"
	out, err := guestCmd(t, root, nil, prog, root+"/nonexistent").CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("sbx-start-hooks on a missing directory = %q, %v, want no output and status 0", out, err)
	}

	ran := filepath.Join(root, "ran")
	write(t, filepath.Join(root, "etc/sbx/start.d/50-mark"), rooted(root, "#!/bin/sh\n")+"echo yes >"+ran+"\n", 0o755)
	out, err = guestCmd(t, root, []string{"SBX_START_HOOK_LOG=/proc/no-such-dir/hooks.log"}, prog).CombinedOutput()
	if err != nil {
		t.Fatalf("sbx-start-hooks: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "cannot write /proc/no-such-dir/hooks.log") {
		t.Errorf("output = %q, want a warning about the log file", out)
	}
	if got, err := os.ReadFile(ran); string(got) != "yes\n" {
		t.Errorf("the default directory's hook left %q, %v, want it run", got, err)
	}
}
