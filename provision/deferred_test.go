package provision

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// TestDeferredScripts: with Options.DeferredScriptsDir, every script and
// trigger the emulator cannot reproduce is stored there unchanged,
// numbered in apk's order (install scripts package by package, then the
// triggers), with the arguments apk would pass (the version; the
// directories that fired), and reported "deferred"; what is reproduced
// or a no-op is not stored. Without it (the negative control) the same
// scripts are "not-reproduced" and nothing is stored. A strict run refuses
// a deferred script.
func TestDeferredScripts(t *testing.T) {
	trigger := "#!/bin/sh\nfor d in \"$@\"; do mkfontscale \"$d\"; done\n"
	post := "#!/bin/sh\nfc-cache -f\n"
	pkgs := append(basePackages(t),
		apktest.Pkg{
			Name: "fontconfig-ish", Version: "2.0-r1", Triggers: []string{"/usr/share/fonts/*"},
			Scripts: map[string]string{"trigger": trigger, "post-install": post},
		},
		apktest.Pkg{
			Name: "fonts-ish", Version: "1.2-r0", Depends: []string{"fontconfig-ish"},
			Scripts: map[string]string{"post-install": "#!/bin/sh\nmkfontdir /usr/share/fonts/misc\n"},
			Files:   []apktest.File{{Name: "usr/share/fonts/misc/", Mode: fs.ModeDir | 0o755}, {Name: "usr/share/fonts/ttf/", Mode: fs.ModeDir | 0o755}},
		})
	f := newFixture(t, pkgs, append([]string{"fonts-ish"}, baseWorld...)...)
	o := f.options()
	o.DeferredScriptsDir = "/usr/lib/rootfs-synth/deferred-scripts"
	res, err := Provision(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	dir := "usr/lib/rootfs-synth/deferred-scripts"
	var stored []string
	for _, name := range res.Tree.Children(dir) {
		stored = append(stored, name)
	}
	// Install scripts in install order (fontconfig-ish first: fonts-ish
	// depends on it), then the triggers.
	want := []string{
		"001-fontconfig-ish-2.0-r1.post-install", "001-fontconfig-ish-2.0-r1.post-install.args",
		"002-fonts-ish-1.2-r0.post-install", "002-fonts-ish-1.2-r0.post-install.args",
		"003-fontconfig-ish-2.0-r1.trigger", "003-fontconfig-ish-2.0-r1.trigger.args",
	}
	if strings.Join(stored, " ") != strings.Join(want, " ") {
		t.Fatalf("stored in /%s:\n%s\nwant\n%s", dir, strings.Join(stored, "\n"), strings.Join(want, "\n"))
	}
	for p, want := range map[string]string{
		dir + "/001-fontconfig-ish-2.0-r1.post-install":      post,
		dir + "/001-fontconfig-ish-2.0-r1.post-install.args": "2.0-r1\n",
		dir + "/003-fontconfig-ish-2.0-r1.trigger":           trigger,
		dir + "/003-fontconfig-ish-2.0-r1.trigger.args":      "/usr/share/fonts/misc\n/usr/share/fonts/ttf\n",
	} {
		if got := content(t, res.Tree, p); got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
	if n := node(t, res.Tree, dir+"/003-fontconfig-ish-2.0-r1.trigger"); n.Mode != 0o755 || n.UID != 0 {
		t.Errorf("stored trigger: mode %v owner %d, want 0755 root", n.Mode, n.UID)
	}
	status := map[string]string{}
	for _, r := range res.Scripts {
		status[r.Package+" "+r.Script] = r.Status
	}
	for k, want := range map[string]string{
		"fontconfig-ish-2.0-r1 .post-install":      statusDeferred,
		"fonts-ish-1.2-r0 .post-install":           statusDeferred,
		"fontconfig-ish-2.0-r1 .trigger":           statusDeferred,
		"alpine-baselayout-3.7.2-r0 .post-install": statusReproduced,
		"busybox-1.37.0-r30 .trigger":              statusReproduced,
		"busybox-1.37.0-r30 .post-install":         statusReproduced,
	} {
		if got := status[k]; got != want {
			t.Errorf("report: %s is %q, want %q", k, got, want)
		}
	}

	// Negative control: no directory, nothing stored, nothing deferred.
	o.DeferredScriptsDir = ""
	res2, err := Provision(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Close()
	if _, ok := res2.Tree.Get(dir); ok {
		t.Errorf("/%s exists without DeferredScriptsDir", dir)
	}
	for _, r := range res2.Scripts {
		if strings.HasPrefix(r.Package, "font") && r.Status != statusNotReproduced {
			t.Errorf("without DeferredScriptsDir: %s %s is %q, want %q", r.Package, r.Script, r.Status, statusNotReproduced)
		}
	}

	o.DeferredScriptsDir, o.Strict = "/usr/lib/rootfs-synth/deferred-scripts", true
	if _, err := Provision(context.Background(), o); err == nil || !strings.Contains(err.Error(), "strict") {
		t.Errorf("a strict run with deferred scripts: %v, want an error", err)
	}
}

// TestDeferScriptNames: a script is deferred only when its name can be a
// file name as it is; a package name with "/" (an index may give one)
// or control characters keeps the script not reproduced, stored nowhere.
func TestDeferScriptNames(t *testing.T) {
	for _, tc := range []struct {
		pkg  string
		want string
	}{
		{"fontconfig-2.15.0-r3", statusDeferred},
		{"g++-14.2.0-r6", statusDeferred},
		{"evil/../../../etc/passwd-1", statusNotReproduced},
		{"x-1\n", statusNotReproduced},
		{".hidden-1", statusNotReproduced},
	} {
		in := &installer{opts: Options{DeferredScriptsDir: "/usr/lib/rootfs-synth/deferred-scripts"}}
		rep := ScriptReport{Package: tc.pkg, Script: ".post-install", Status: statusNotReproduced}
		in.deferScript(&rep, []byte("#!/bin/sh\nx\n"), nil)
		if rep.Status != tc.want || (len(in.deferred) == 1) != (tc.want == statusDeferred) {
			t.Errorf("deferScript(%q) = %s with %d stored, want %s", tc.pkg, rep.Status, len(in.deferred), tc.want)
		}
		if tc.want == statusNotReproduced && !strings.Contains(rep.Why, fmt.Sprintf("not deferred: %q cannot be a file name", tc.pkg+".post-install")) {
			t.Errorf("deferScript(%q): why %q, want the name quoted", tc.pkg, rep.Why)
		}
	}
}

// TestDeferScriptArgs: a script is deferred only when each of its
// arguments can reach the first-boot runner's console line as it is: a
// trigger's directory named with an escape sequence, another control
// character, or bytes that are not UTF-8 keeps it not reproduced, stored
// nowhere, the argument quoted in the reason.
func TestDeferScriptArgs(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want string
	}{
		{"/usr/share/fonts/misc", statusDeferred},
		{"/usr/share/fonts/café", statusDeferred},
		{"/usr/share/fonts/\x1b[31mred", statusNotReproduced},
		{"/usr/share/fonts/a\rb", statusNotReproduced},
		{"/usr/share/fonts/a\nb", statusNotReproduced},
		{"/usr/share/fonts/a\x7fb", statusNotReproduced},
		{"/usr/share/fonts/a\u009bb", statusNotReproduced},
		{"/usr/share/fonts/a\x9bb", statusNotReproduced},
	} {
		in := &installer{opts: Options{DeferredScriptsDir: "/usr/lib/rootfs-synth/deferred-scripts"}}
		rep := ScriptReport{Package: "fontconfig-2.15.0-r3", Script: ".trigger", Status: statusNotReproduced, Why: "line 2: 'for' loop"}
		in.deferScript(&rep, []byte("#!/bin/sh\nx\n"), []string{"/usr/share/fonts/ttf", tc.arg})
		if rep.Status != tc.want || (len(in.deferred) == 1) != (tc.want == statusDeferred) {
			t.Errorf("deferScript(args %q) = %s with %d stored, want %s", tc.arg, rep.Status, len(in.deferred), tc.want)
		}
		if tc.want == statusNotReproduced && !strings.Contains(rep.Why, fmt.Sprintf("argument %q holds a control character", tc.arg)) {
			t.Errorf("deferScript(args %q): why %q, want the argument named", tc.arg, rep.Why)
		}
	}
}
