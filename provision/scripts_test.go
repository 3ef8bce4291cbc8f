package provision

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
)

// openrcPostInstall has the shape of openrc's .post-install (aports
// main/openrc): a helper function, an early exit when neither legacy
// runlevel directory exists (always, on a fresh root), then a loop that
// migrates them.
const openrcPostInstall = `#!/bin/sh

rc_update() {
	local svc="$1"
	local level="$2"
	mkdir -p etc/runlevels/$level
	ln -sf /etc/init.d/$svc etc/runlevels/$level
}

if [ ! -d etc/rcS.d ] && [ ! -d etc/rcL.d ]; then
	exit 0
fi

for i in etc/rc[SL].d/*; do
	[ -L "$i" ] || continue
	rc_update "${i##*/S[0-9][0-9]}" default
	rm $i
done
`

// scriptPackage is a package with one post-install script, installing
// files ("PATH->TARGET" is a symlink).
func scriptPackage(name, script string, files ...string) apktest.Pkg {
	p := apktest.Pkg{Name: name, Version: "1.0-r0", Scripts: map[string]string{"post-install": script}}
	for _, f := range files {
		if at, target, ok := strings.Cut(f, "->"); ok {
			p.Files = append(p.Files, apktest.File{Name: at, Linkname: target})
			continue
		}
		p.Files = append(p.Files, apktest.File{Name: f, Data: []byte(name + "\n")})
	}
	return p
}

// caseOnReadlink picks a directory to make by where etc/x points.
const caseOnReadlink = `#!/bin/sh
case "$(readlink etc/x 2>/dev/null || true)" in
	target|other) mkdir /matched;;
	""|no*) mkdir /none;;
	*) mkdir /else;;
esac
`

// callBomb calls functions 10^9 times in ten lines: each fN calls fN-1
// ten times.
func callBomb() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\nmkdir /before\nf0() { :; }\n")
	for n := 1; n <= 9; n++ {
		fmt.Fprintf(&b, "f%d() {%s }\n", n, strings.Repeat(fmt.Sprintf(" f%d;", n-1), 10))
	}
	b.WriteString("f9\nmkdir /after\n")
	return b.String()
}

// TestScriptEmulation: scripts of base and common packages, on the base
// tree, and what the report says of them. The "not reproduced" cases are
// the negative controls: the same constructs where the answer is not
// known, or the effect is not emulated.
func TestScriptEmulation(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		files        []string
		status       string
		why          string // a part of Why
		effects      string // Effects joined by "; "
	}{
		{name: "openrc", script: openrcPostInstall, status: statusNoOp},
		{name: "openrc-legacy", script: openrcPostInstall, files: []string{"etc/rcS.d/S10syslog"},
			status: statusNotReproduced, why: "line 14: 'for' loop"},
		{name: "calls", script: "#!/bin/sh\nmk() {\n\tmkdir -p /var/lib/calls\n}\nmk\nexit 0\nmkdir /var/lib/never\n",
			status: statusReproduced, effects: "mkdir /var/lib/calls"},
		{name: "call-unknown", script: "#!/bin/sh\nmk() {\n\tmkdir -p /var/lib/$1\n}\nmk x\n",
			status: statusNotReproduced, why: `line 3: variable expansion: "mkdir -p /var/lib/$1"`},
		{name: "if-else", script: "#!/bin/sh\nif [ -e /etc/motd ]; then mkdir /yes; elif true; then mkdir /no1; else mkdir /no2; fi\n" +
			"if test -f /etc/nothing; then mkdir /no3; elif ! false; then :; else mkdir /no4; fi\n" +
			"if [ -d /etc ] && [ ! -L /etc ] && [ -n x ]; then mkdir /yes2; fi\n",
			status: statusNotReproduced, why: `line 3: negation`, effects: "mkdir /yes; mkdir /yes2"},
		{name: "if-true", script: "#!/bin/sh\nif [ -e /etc/motd ]; then mkdir /yes; elif true; then mkdir /no1; else mkdir /no2; fi\n" +
			"if test -f /etc/nothing; then mkdir /no3; elif [ x = y ]; then :; else mkdir /yes3; fi\n",
			status: statusReproduced, effects: "mkdir /yes; mkdir /yes3"},
		{name: "if-unknown", script: "#!/bin/sh\nif grep -q x /etc/motd; then mkdir /a; fi\nmkdir /b\n",
			status: statusNotReproduced, why: `line 2: command "grep -q x /etc/motd" is not emulated`, effects: "mkdir /b"},
		{name: "and-unknown", script: "#!/bin/sh\ngrep -q x /etc/base && mkdir /made-by-and\nmkdir /y\n",
			status: statusNotReproduced, why: `line 2: command "grep -q x /etc/base" is not emulated`, effects: "mkdir /y"},
		{name: "or-unknown", script: "#!/bin/sh\ngrep -q x /etc/base || mkdir /made-by-or\nmkdir /y\n",
			status: statusNotReproduced, why: `line 2: command "grep -q x /etc/base" is not emulated`, effects: "mkdir /y"},
		{name: "or-and-unknown", script: "#!/bin/sh\ngrep -q x /etc/base || mkdir /made-by-or && mkdir /made-after-or\nmkdir /y\n",
			status: statusNotReproduced, why: `line 2: command "grep -q x /etc/base" is not emulated`, effects: "mkdir /y"},
		{name: "exit-error", script: "#!/bin/sh\nexit 3\nmkdir /b\n",
			status: statusNotReproduced, why: `line 2: "exit 3" fails the script`},
		{name: "baselayout", script: alpinetest.BaselayoutPostInstall,
			status: statusReproduced, effects: "chown root:shadow /etc/shadow"},
		{name: "case-link", script: caseOnReadlink, files: []string{"etc/x->target"},
			status: statusReproduced, effects: "mkdir /matched"},
		{name: "case-none", script: caseOnReadlink,
			status: statusReproduced, effects: "mkdir /none"},
		{name: "case-else", script: caseOnReadlink, files: []string{"etc/x->/abc"},
			status: statusReproduced, effects: "mkdir /else"},
		{name: "case-unknown", script: "#!/bin/sh\ncase \"$(cat /etc/motd)\" in x) mkdir /x;; esac\nmkdir /y\n",
			status: statusNotReproduced, why: `line 2: command "cat /etc/motd" is not emulated`, effects: "mkdir /y"},
		{name: "case-bang", script: "#!/bin/sh\ncase x in [!a]) mkdir /bang;; esac\n",
			status: statusReproduced, effects: "mkdir /bang"},
		{name: "case-bang-no", script: "#!/bin/sh\ncase a in [!a]) mkdir /bang2;; esac\n",
			status: statusNoOp, why: "no command changes a fresh root"},
		{name: "case-class", script: "#!/bin/sh\ncase a in [[:alpha:]]) mkdir /alpha;; esac\nmkdir /y\n",
			status: statusNotReproduced, why: `line 2: case pattern "[[:alpha:]]" is not emulated`, effects: "mkdir /y"},
		{name: "bash", script: "#!/bin/sh\nadd-shell '/bin/bash'\nexit 0\n",
			status: statusReproduced, effects: "add-shell /bin/bash"},
		{name: "remove", script: "#!/bin/sh\nremove-shell /bin/ash\n",
			status: statusReproduced, effects: "remove-shell /bin/ash"},
		// Stopped at the budget, as an exit would stop it: what ran
		// before stays, as with any script not reproduced.
		{name: "call-bomb", script: callBomb(),
			status: statusNotReproduced, why: `line 3: ":": stopped after 10000 commands, the emulator's budget for one script`, effects: "mkdir /before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs := append(basePackages(t), scriptPackage(tc.name, tc.script, tc.files...))
			f := newFixture(t, pkgs, append([]string{tc.name}, baseWorld...)...)
			res, err := Provision(context.Background(), f.options())
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			var rep *ScriptReport
			for i, r := range res.Scripts {
				if r.Package == tc.name+"-1.0-r0" && r.Script == ".post-install" {
					rep = &res.Scripts[i]
				}
			}
			if rep == nil {
				t.Fatalf("no report of %s's .post-install", tc.name)
			}
			if rep.Status != tc.status || !strings.Contains(rep.Why, tc.why) || strings.Join(rep.Effects, "; ") != tc.effects {
				t.Errorf("%s's .post-install = %s, why %q, effects %q; want %s, why containing %q, effects %q",
					tc.name, rep.Status, rep.Why, strings.Join(rep.Effects, "; "), tc.status, tc.why, tc.effects)
			}
		})
	}
}

// TestEditShells: busybox's add-shell and remove-shell on /etc/shells'
// text.
func TestEditShells(t *testing.T) {
	for _, tc := range []struct {
		old    string
		shells []string
		remove bool
		want   string
	}{
		{"/bin/sh\n/bin/ash\n", []string{"/bin/bash"}, false, "/bin/sh\n/bin/ash\n/bin/bash\n"},
		{"/bin/sh\n/bin/bash\n", []string{"/bin/bash"}, false, "/bin/sh\n/bin/bash\n"},
		{"# comment\n/bin/sh", []string{"/bin/zsh", "/bin/sh", "/bin/zsh"}, false, "# comment\n/bin/sh\n/bin/zsh\n/bin/zsh\n"},
		{"", []string{"/bin/bash"}, false, "/bin/bash\n"},
		{"/bin/sh\n/bin/bash\n/bin/bash\n", []string{"/bin/bash"}, true, "/bin/sh\n"},
		{"/bin/sh\n", []string{"/bin/bash"}, true, "/bin/sh\n"},
		{" /bin/sh\n/bin/sh \n", []string{"/bin/sh"}, true, " /bin/sh\n/bin/sh \n"},
	} {
		if got := string(editShells([]byte(tc.old), tc.shells, tc.remove)); got != tc.want {
			t.Errorf("editShells(%q, %q, remove %v) = %q, want %q", tc.old, tc.shells, tc.remove, got, tc.want)
		}
	}
}

// TestShellsAfterOverlays: the shells packages add with add-shell stay in
// /etc/shells when an overlay (the sandbox's files) replaces the file, as
// they would when the package is installed onto that root; an overlay's
// file that lists them already is left as it is. The effect at script
// time is in the tree before the overlays: the negative control, gone
// from the overlay's file until the replay.
func TestShellsAfterOverlays(t *testing.T) {
	pkgs := append(basePackages(t),
		scriptPackage("zsh", "#!/bin/sh\nadd-shell /bin/zsh\n"),
		scriptPackage("ash-only", "#!/bin/sh\nadd-shell /bin/ash\n"))
	f := newFixture(t, pkgs, append([]string{"zsh", "ash-only"}, baseWorld...)...)
	o := f.options()
	res, err := Provision(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if got, want := content(t, res.Tree, "etc/shells"), "/bin/ash\n/bin/zsh\n"; got != want && got != "/bin/zsh\n/bin/ash\n" {
		t.Errorf("without overlays /etc/shells = %q, want both shells", got)
	}
	overlay := fstest.MapFS{"etc/shells": &fstest.MapFile{Data: []byte("# overlay\n/bin/sh\n/bin/ash\n"), Mode: 0o644}}
	o.Overlays = []fs.FS{overlay}
	res2, err := Provision(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Close()
	if got, want := content(t, res2.Tree, "etc/shells"), "# overlay\n/bin/sh\n/bin/ash\n/bin/zsh\n"; got != want {
		t.Errorf("over an overlay's /etc/shells = %q, want %q", got, want)
	}
	// All there already: the overlay's file, node and all, is kept.
	overlay["etc/shells"] = &fstest.MapFile{Data: []byte("/bin/zsh\n/bin/ash\n"), Mode: 0o600}
	res3, err := Provision(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer res3.Close()
	if n := node(t, res3.Tree, "etc/shells"); content(t, res3.Tree, "etc/shells") != "/bin/zsh\n/bin/ash\n" || n.Mode != 0o600 {
		t.Errorf("an overlay's /etc/shells listing both = %q mode %v, want it unchanged, 0600", content(t, res3.Tree, "etc/shells"), n.Mode)
	}
}

// TestTriggerEmulation: a trigger that fires is emulated like any script
// (one the emulator follows is reproduced, or a no-op); one that cannot
// be followed names why; a package that declares trigger directories but
// ships no .trigger script runs nothing, as apk runs nothing.
func TestTriggerEmulation(t *testing.T) {
	dir := apktest.File{Name: "usr/share/t/d/", Mode: fs.ModeDir | 0o755}
	pkgs := append(basePackages(t),
		apktest.Pkg{Name: "trig-mkdir", Version: "1-r0", Triggers: []string{"/usr/share/t/*"}, Files: []apktest.File{dir},
			Scripts: map[string]string{"trigger": "#!/bin/sh\nmkdir -p /var/cache/t\nexit 0\n"}},
		apktest.Pkg{Name: "trig-noop", Version: "1-r0", Triggers: []string{"/usr/share/t/*"},
			Scripts: map[string]string{"trigger": "#!/bin/sh\n[ -d /nonexistent ] || exit 0\nmkdir /never\n"}},
		apktest.Pkg{Name: "trig-loop", Version: "1-r0", Triggers: []string{"/usr/share/t/*"},
			Scripts: map[string]string{"trigger": "#!/bin/sh\nfor d in \"$@\"; do mkfontdir \"$d\"; done\n"}},
		apktest.Pkg{Name: "trig-none", Version: "1-r0", Triggers: []string{"/usr/share/t/*"}},
	)
	f := newFixture(t, pkgs, append([]string{"trig-mkdir", "trig-noop", "trig-loop", "trig-none"}, baseWorld...)...)
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	got := map[string]ScriptReport{}
	for _, r := range res.Scripts {
		if r.Script == ".trigger" {
			got[r.Package] = r
		}
	}
	for pkg, want := range map[string]struct{ status, why, effects string }{
		"trig-mkdir-1-r0": {statusReproduced, "", "mkdir /var/cache/t"},
		"trig-noop-1-r0":  {statusNoOp, "no command changes a fresh root", ""},
		"trig-loop-1-r0":  {statusNotReproduced, `line 2: 'for' loop`, ""},
		"trig-none-1-r0":  {statusNoOp, "no .trigger script", ""},
	} {
		r := got[pkg]
		if r.Status != want.status || !strings.Contains(r.Why, want.why) || strings.Join(r.Effects, "; ") != want.effects {
			t.Errorf("%s's trigger = %s, why %q, effects %q; want %s, why containing %q, effects %q",
				pkg, r.Status, r.Why, r.Effects, want.status, want.why, want.effects)
		}
	}
	if n := node(t, res.Tree, "var/cache/t"); !n.IsDir() {
		t.Errorf("/var/cache/t = %v, want the trigger's directory", n.Mode)
	}
}

// TestAddShellEdges: add-shell edits the file /etc/shells links to, as
// busybox follows the link; where /etc/shells is a directory it fails, as
// busybox would, and the build goes on without that effect.
func TestAddShellEdges(t *testing.T) {
	pkgs := append(basePackages(t), scriptPackage("linked", "#!/bin/sh\nadd-shell /bin/zsh\n", "etc/shells->shells.real", "etc/shells.real"))
	f := newFixture(t, pkgs, append([]string{"linked"}, baseWorld...)...)
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if got, want := content(t, res.Tree, "etc/shells.real"), "linked\n/bin/zsh\n"; got != want {
		t.Errorf("/etc/shells.real = %q, want %q", got, want)
	}
	if n := node(t, res.Tree, "etc/shells"); n.Linkname != "shells.real" {
		t.Errorf("/etc/shells = %v -> %q, want the link kept", n.Mode, n.Linkname)
	}

	pkgs = append(basePackages(t), apktest.Pkg{Name: "dir", Version: "1.0-r0",
		Scripts: map[string]string{"post-install": "#!/bin/sh\nadd-shell /bin/zsh\n"},
		Files:   []apktest.File{{Name: "etc/shells/", Mode: fs.ModeDir | 0o755}}})
	f = newFixture(t, pkgs, append([]string{"dir"}, baseWorld...)...)
	res2, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Close()
	found := false
	for _, r := range res2.Scripts {
		if r.Package != "dir-1.0-r0" {
			continue
		}
		found = true
		if r.Status != statusNotReproduced || !strings.Contains(r.Why, `"/etc/shells" is not a regular file`) {
			t.Errorf("add-shell on a directory: %s, why %q; want not reproduced, naming /etc/shells", r.Status, r.Why)
		}
	}
	if !found {
		t.Error("no report of dir's .post-install")
	}
}

// TestIfUnknownCondition: a condition with a command not emulated decides
// nothing, even when its last command is known; neither branch's effect
// is made.
func TestIfUnknownCondition(t *testing.T) {
	script := "#!/bin/sh\nif grep -q x /etc/motd && [ -d /etc ]; then mkdir /then; else mkdir /else; fi\n"
	pkgs := append(basePackages(t), scriptPackage("cond", script))
	f := newFixture(t, pkgs, append([]string{"cond"}, baseWorld...)...)
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	for _, p := range []string{"then", "else"} {
		if _, ok := res.Tree.Get(p); ok {
			t.Errorf("/%s was made by a branch of an undecided condition", p)
		}
	}
}

// TestEmulateCancelled: a cancelled Provision stops a script between
// commands.
func TestEmulateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := &installer{}
	if _, _, err := in.emulate(ctx, nil, []byte("#!/bin/sh\nmkdir /x\n")); !errors.Is(err, context.Canceled) {
		t.Errorf("emulate(cancelled) = %v, want %v", err, context.Canceled)
	}
}

// TestPatternMatches: case patterns as busybox's ash matches them (musl's
// fnmatch).
func TestPatternMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, s       string
		match, undecided bool
	}{
		{"[!a]", "x", true, false},
		{"[!a]", "a", false, false},
		{"[^a]", "a", false, false},
		{"[^a]", "b", true, false},
		{"[!]]", "]", false, false},
		{"[!]]", "x", true, false},
		{"[]a]", "]", true, false},
		{"[a-]", "-", true, false},
		{"[-a]", "-", true, false},
		{"[!-a]", "-", false, false},
		{"[a-c]x", "bx", true, false},
		{"[a-c]x", "dx", false, false},
		{"[c-a]", "b", false, false},
		{"[!a-c]*", "d/e", true, false},
		{"*/*", "a/b/c", true, false},
		{"a?c", "a/c", true, false},
		{"*.[ch]", "x.h", true, false},
		{"*.[ch]", "x.o", false, false},
		{"a[b", "a[b", true, false},
		{"*[", "x[", true, false},
		{"[!", "[!", true, false},
		{`a\*`, `a\b`, true, false},
		{`a\*`, "ab", false, false},
		{"*a*b", "xaab", true, false},
		{"*a*b", "xaba", false, false},
		{"", "", true, false},
		{"?", "", false, false},
		{"[é]", "é", true, false},
		{"[[:alpha:]]", "a", false, true},
	} {
		match, decided := patternMatches(tc.pattern, tc.s)
		if match != tc.match || decided == tc.undecided {
			t.Errorf("patternMatches(%q, %q) = %v, decided %v; want %v, decided %v", tc.pattern, tc.s, match, decided, tc.match, !tc.undecided)
		}
	}
}
