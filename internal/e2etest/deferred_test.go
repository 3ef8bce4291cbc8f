package e2etest

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/internal/vmtest"
)

// deferredPkg has a trigger no emulation reproduces (a loop over its
// arguments writing a file), firing for the directory it installs: a
// stand-in for mkfontscale's.
var deferredPkg = apktest.Pkg{
	Name: "deferred-proof", Version: "1.0-r0", Triggers: []string{"/usr/share/deferred-proof/*"},
	Scripts: map[string]string{"trigger": "#!/bin/sh\nfor d in \"$@\"; do\n\techo \"trigger ran for $d\" >>/var/lib/deferred-proof\ndone\n"},
	Files:   []apktest.File{{Name: "usr/share/deferred-proof/fonts/", Mode: fs.ModeDir | 0o755}},
}

// deferredHook is the start hook of TestDeferredScriptsRunAtFirstBoot: it
// prints what the trigger left and what the runner logged, then powers
// off (the root made clean first when it is read-write).
const deferredHook = `#!/bin/sh
exec >/dev/console 2>&1
echo "E2E-DEFERRED $(cat /var/lib/deferred-proof 2>/dev/null | tr '\n' ';')"
echo "E2E-DEFERRED-DONE $(grep -c deferred-proof /var/lib/rootfs-synth/deferred-scripts.done 2>/dev/null)"
echo "E2E-DEFERRED-LOG $(grep -c 'running [0-9]*-deferred-proof-1.0-r0.trigger' /var/log/sbx-deferred-scripts.log 2>/dev/null)"
sync
mount -o remount,ro / 2>/dev/null || { echo u > /proc/sysrq-trigger; sleep 1; }
poweroff -f || /bin/busybox poweroff -f || echo o > /proc/sysrq-trigger
sleep 10
`

// TestDeferredScriptsRunAtFirstBoot: the real binary builds an image with
// a package whose trigger cannot be reproduced statically; the report says
// "deferred", and at the first boot under QEMU the trigger runs (with the
// directory that fired as its argument) before the start hooks, the
// console and the log say so, and after poweroff its file and the done
// list are in the image, which is e2fsck-clean. Negative control: a copy
// of the same image booted with a read-only root has no file, and the
// console says the scripts were skipped.
func TestDeferredScriptsRunAtFirstBoot(t *testing.T) {
	m := machine(t)
	bin := testenv.Binary(t)
	_, mirror, work, keys := servedMirror(t, alpinetest.Options{Bootable: true, BusyboxPath: m.Busybox, Extra: []apktest.Pkg{deferredPkg}})
	hook := filepath.Join(work, "files", filepath.FromSlash(hookPath))
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hook, []byte(deferredHook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(hook, 0o755); err != nil { // past the umask
		t.Fatal(err)
	}
	img, report := filepath.Join(work, "img.ext4"), filepath.Join(work, "report.json")
	args := []string{"--mirror", mirror, "--branch", alpinetest.Branch, "--keys-dir", keys,
		"--profile", "none", "--files", filepath.Join(work, "files"), "--cache-dir", filepath.Join(work, "cache"),
		"--report", report, "-o", img, "-p", deferredPkg.Name}
	for _, p := range buildWorld {
		args = append(args, "-p", p)
	}
	cmd := testenv.Unprivileged(t, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+work)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rootfs-synth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if got := scriptStatus(t, report, "deferred-proof-1.0-r0", ".trigger"); got != "deferred" {
		t.Errorf("report: deferred-proof's trigger is %q, want deferred", got)
	}
	readOnly := copyImage(t, img)

	res, err := m.Boot(context.Background(), img, vmtest.Options{Init: sbxInit, Timeout: 180 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("booted %s in %v", img, res.Duration.Round(time.Millisecond))
	t.Logf("first boot: %s", runnerLines(res.Guest))
	got := markers(res.Guest)
	const name = "001-deferred-proof-1.0-r0.trigger /usr/share/deferred-proof/fonts"
	if want := "trigger ran for /usr/share/deferred-proof/fonts;"; got["DEFERRED"] != want {
		t.Errorf("the start hook saw the trigger's file %q, want %q\nguest console:\n%s", got["DEFERRED"], want, res.Guest)
	}
	if got["DEFERRED-DONE"] != "1" || got["DEFERRED-LOG"] != "1" {
		t.Errorf("the trigger is %q times in the done list and %q times in the log, want 1 and 1", got["DEFERRED-DONE"], got["DEFERRED-LOG"])
	}
	if !strings.Contains(res.Guest, name) || !strings.Contains(res.Guest, "sbx-deferred-scripts: running ") {
		t.Errorf("the console does not say the trigger ran:\n%s", res.Guest)
	}
	if proof, err := debugfsCat(t, img, "/var/lib/deferred-proof"); err != nil || proof != "trigger ran for /usr/share/deferred-proof/fonts\n" {
		t.Errorf("/var/lib/deferred-proof after poweroff = %q, %v", proof, err)
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Errorf("after the first boot: %v", err)
	}

	res, err = m.Boot(context.Background(), readOnly, vmtest.Options{Init: sbxInit, Timeout: 180 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read-only boot: %s", runnerLines(res.Guest))
	got = markers(res.Guest)
	if got["DEFERRED"] != "" || got["DEFERRED-DONE"] != "" {
		t.Errorf("negative control: a read-only boot left the trigger's file %q, done list %q; want neither", got["DEFERRED"], got["DEFERRED-DONE"])
	}
	if _, ok := got["DEFERRED"]; !ok || !strings.Contains(res.Guest, "1 package script left for the next read-write boot") {
		t.Errorf("negative control: the read-only boot's console does not say the scripts were skipped:\n%s", res.Guest)
	}
}

// scriptStatus returns the status the build report gives a package's
// script.
func scriptStatus(t *testing.T, report, pkg, script string) string {
	t.Helper()
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Scripts []struct{ Package, Script, Status string }
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Scripts {
		if s.Package == pkg && s.Script == script {
			return s.Status
		}
	}
	return ""
}

// runnerLines are the console lines of sbx-deferred-scripts, for the log.
func runnerLines(console string) string {
	var lines []string
	for _, l := range strings.Split(console, "\n") {
		if strings.Contains(l, "sbx-deferred-scripts:") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return strings.Join(lines, " | ")
}
