package provision

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/rootfs"

	"github.com/rootfs-synth/rootfs-synth/internal/shscript"
)

// Script emulation: a package script is split into simple commands, and
// the script counts as reproduced only when every command it runs is one
// whose effect this file knows how to make in the tree (interp.go follows
// if commands, function calls, && and || and exit). Anything else (a loop,
// a variable, a program we cannot run) leaves the script "not-reproduced",
// with the first such line as the reason.

const (
	statusReproduced    = "reproduced"
	statusNoOp          = "no-op"
	statusNotReproduced = "not-reproduced"
	statusDeferred      = "deferred"
)

// runScript emulates one install script of ps, if it has it.
func (in *installer) runScript(ctx context.Context, ps *pkgState, name string) error {
	body, ok := ps.m.Scripts[name]
	if !ok {
		return nil
	}
	// apk passes an install script the package's version.
	return in.emulateScript(ctx, ps, name, body, []string{ps.rec.Version}, "")
}

// emulateScript emulates a script apk would run with args, reports what
// became of it (a reason not reproduced starts with context), and defers
// it when it was not reproduced.
func (in *installer) emulateScript(ctx context.Context, ps *pkgState, name, body string, args []string, context string) error {
	rep := ScriptReport{Package: ps.rec.String(), Script: name}
	effects, why, err := in.emulate(ctx, ps, []byte(body))
	if err != nil {
		return fmt.Errorf("package %s: %s: %w", ps.rec, name, err)
	}
	rep.Effects = effects
	switch {
	case why != "":
		rep.Status, rep.Why = statusNotReproduced, context+why
	case len(effects) == 0:
		rep.Status, rep.Why = statusNoOp, "no command changes a fresh root"
	default:
		rep.Status = statusReproduced
	}
	in.deferScript(&rep, []byte(body), args)
	return in.addScriptReport(rep)
}

// addScriptReport records rep; a strict build refuses a script that was
// not reproduced, deferred or not: the image as built lacks its effect.
func (in *installer) addScriptReport(rep ScriptReport) error {
	in.res.Scripts = append(in.res.Scripts, rep)
	if in.opts.Strict && (rep.Status == statusNotReproduced || rep.Status == statusDeferred) {
		return fmt.Errorf("package %s: %s was not reproduced (%s), and the build is strict", rep.Package, rep.Script, rep.Why)
	}
	return nil
}

// redirectsOutput reports whether c writes or reads a file other than
// /dev/null (2>/dev/null and >/dev/null 2>&1 only hide messages).
func redirectsOutput(c shscript.Command) bool {
	for _, r := range c.Redirects {
		if r.Target != "/dev/null" && !(r.Op == ">&" && (r.Target == "1" || r.Target == "2")) {
			return true
		}
	}
	return false
}

// commandFailed is a command that fails as it would in the guest, without
// stopping the script.
type commandFailed struct{ err error }

func (c commandFailed) Error() string { return c.err.Error() }

// command applies one simple command. ok is false for a command this
// file does not emulate.
func (in *installer) command(ps *pkgState, c shscript.Command) (effects []string, ok bool, err error) {
	args := c.Args
	prog := path.Base(args[0])
	if prog == "busybox" && len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		// "/bin/busybox mkdir -p ..." runs the applet.
		args = args[1:]
		prog = args[0]
	}
	switch prog {
	case "true", ":":
		return nil, true, nil
	case "busybox", "bbsuid", "busybox-extras":
		// --install -s: the applet links, made for every package's
		// list once all packages are in (runTriggers).
		if slices.Contains(args, "--install") {
			return []string{prog + " applet links (made after the last package)"}, true, nil
		}
		return nil, false, nil
	case "addgroup":
		if err := in.ensureAccounts(); err != nil {
			return nil, false, err
		}
		if err := in.accounts.AddGroup(args[1:]); err != nil {
			return nil, false, err
		}
		in.accountCmds = append(in.accountCmds, args)
		in.noteAccounts(ps)
		return []string{strings.Join(args, " ")}, true, nil
	case "adduser":
		if err := in.ensureAccounts(); err != nil {
			return nil, false, err
		}
		if err := in.accounts.AddUser(args[1:], in.time); err != nil {
			return nil, false, err
		}
		in.accountCmds = append(in.accountCmds, args)
		in.noteAccounts(ps)
		return []string{strings.Join(args, " ")}, true, nil
	case "add-shell", "remove-shell":
		return in.shellsCommand(prog, args[1:])
	case "mkdir":
		return in.mkdirCommand(args)
	case "chown", "chgrp":
		return in.chownCommand(prog, args)
	case "chmod":
		return in.chmodCommand(args)
	}
	return nil, false, nil
}

// guestPath turns a script's path argument (absolute, or relative to the
// root, where apk runs scripts) into a tree path.
func guestPath(arg string) (string, error) {
	return rootfs.Clean(arg)
}

func (in *installer) mkdirCommand(args []string) ([]string, bool, error) {
	var dirs []string
	mode := fs.FileMode(0o755)
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-p":
		case a == "-m" && i+1 < len(args):
			m, err := strconv.ParseUint(args[i+1], 8, 32)
			if err != nil {
				return nil, false, nil
			}
			mode = fs.FileMode(m) & fs.ModePerm
			i++
		case strings.HasPrefix(a, "-"):
			return nil, false, nil
		default:
			dirs = append(dirs, a)
		}
	}
	var effects []string
	for _, d := range dirs {
		p, err := guestPath(d)
		if err != nil {
			return nil, false, err
		}
		if _, ok := in.tree.Get(p); ok {
			continue
		}
		if err := in.tree.MkdirAll(p, rootfs.Node{Mode: mode, ModTime: in.time}); err != nil {
			return nil, false, err
		}
		effects = append(effects, "mkdir /"+p)
	}
	return effects, true, nil
}

func (in *installer) chownCommand(prog string, args []string) ([]string, bool, error) {
	if len(args) < 3 || strings.HasPrefix(args[1], "-") {
		return nil, false, nil // -R and friends: not emulated
	}
	owner := args[1]
	if prog == "chgrp" {
		owner = ":" + owner
	}
	user, group, _ := strings.Cut(owner, ":")
	if err := in.ensureAccounts(); err != nil {
		return nil, false, err
	}
	var uid, gid uint32
	var setUID, setGID bool
	if user != "" {
		id, ok := in.accounts.LookupUser(user)
		if !ok {
			return nil, false, commandFailed{fmt.Errorf("unknown user %q", user)}
		}
		uid, setUID = id, true
	}
	if group != "" {
		id, ok := in.accounts.LookupGroup(group)
		if !ok {
			return nil, false, commandFailed{fmt.Errorf("unknown group %q", group)}
		}
		gid, setGID = id, true
	}
	effects, err := in.onPaths(args, func(n *rootfs.Node) {
		if setUID {
			n.UID = uid
		}
		if setGID {
			n.GID = gid
		}
	})
	return effects, err == nil, err
}

// onPaths applies change to each existing path operand of a chown or
// chmod command line (args[2:]) and returns the effects, one per path; a
// missing path is skipped, as the command fails on it and the script goes
// on.
func (in *installer) onPaths(args []string, change func(*rootfs.Node)) ([]string, error) {
	var effects []string
	for _, a := range args[2:] {
		p, err := guestPath(a)
		if err != nil {
			return nil, err
		}
		n, ok := in.tree.Get(p)
		if !ok {
			continue
		}
		change(n)
		effects = append(effects, path.Base(args[0])+" "+args[1]+" /"+p)
	}
	return effects, nil
}

func (in *installer) chmodCommand(args []string) ([]string, bool, error) {
	if len(args) < 3 {
		return nil, false, nil
	}
	m, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil || m > 0o7777 {
		return nil, false, nil // symbolic modes: not emulated
	}
	effects, err := in.onPaths(args, func(n *rootfs.Node) {
		n.Mode = n.Mode.Type() | fileMode(int64(m))
	})
	return effects, err == nil, err
}

// bbsuidApplets are the links `bbsuid --install` makes (aports
// main/busybox/bbsuid.c), replacing busybox's own.
var bbsuidApplets = []string{
	"bin/mount", "bin/umount", "bin/su", "usr/bin/crontab", "usr/bin/passwd",
	"usr/bin/traceroute", "usr/bin/traceroute6", "usr/bin/vlock",
}

// busyboxPathsDir is where busybox (and busybox-extras) list the applet
// links `--install -s` makes.
const busyboxPathsDir = "etc/busybox-paths.d"

// runTriggers reports which triggers fire on this fresh root and makes the
// effect of busybox's: bbsuid's links, then the applet links of every
// /etc/busybox-paths.d list (what `busybox --install -s` does: absolute
// links to the binary, existing paths left alone).
func (in *installer) runTriggers(ctx context.Context) error {
	var effects []string
	if n, ok := in.tree.Get("bin/bbsuid"); ok && n.Mode.IsRegular() {
		for _, p := range bbsuidApplets {
			if err := in.tree.MkdirAll(path.Dir(p), rootfs.Node{Mode: 0o755, ModTime: in.time}); err != nil {
				return err
			}
			if err := in.tree.Replace(p, in.symlink("/bin/bbsuid")); err != nil {
				return err
			}
		}
		effects = append(effects, fmt.Sprintf("bbsuid --install: %d links to /bin/bbsuid", len(bbsuidApplets)))
	}
	lists := in.tree.Children(busyboxPathsDir)
	// busybox-extras before busybox, as the trigger runs them.
	slices.SortStableFunc(lists, func(a, b string) int {
		return boolInt(a == "busybox") - boolInt(b == "busybox")
	})
	for _, list := range lists {
		n, err := in.linkApplets(path.Join(busyboxPathsDir, list), "/bin/"+list)
		if err != nil {
			return err
		}
		effects = append(effects, fmt.Sprintf("%s --install -s: %d links to /bin/%s", list, n, list))
	}
	for _, ps := range in.pkgs {
		if len(ps.m.Triggers) == 0 {
			continue
		}
		rep := ScriptReport{Package: ps.rec.String(), Script: ".trigger"}
		fired := in.triggerFires(ps.m.Triggers)
		body, hasScript := ps.m.Scripts[".trigger"]
		switch {
		case len(fired) == 0:
			rep.Status, rep.Why = statusNoOp, "no installed directory matches "+strconv.Quote(strings.Join(ps.m.Triggers, " "))
		case !hasScript:
			rep.Status, rep.Why = statusNoOp, "no .trigger script"
		case ps.rec.Name == "busybox":
			rep.Status, rep.Effects = statusReproduced, effects
		default:
			// apk passes a trigger the directories that fired it.
			args := make([]string, len(fired))
			for i, f := range fired {
				args[i] = "/" + f
			}
			context := "fires for " + strconv.Quote(strings.Join(args, ", ")) + "; "
			if err := in.emulateScript(ctx, ps, ".trigger", body, args, context); err != nil {
				return err
			}
			continue
		}
		if err := in.addScriptReport(rep); err != nil {
			return err
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (in *installer) symlink(target string) *rootfs.Node {
	return &rootfs.Node{Mode: fs.ModeSymlink | 0o777, ModTime: in.time, Linkname: target}
}

// linkApplets makes a link to target for every path in the list file at
// listPath that does not exist yet, and returns how many it made.
func (in *installer) linkApplets(listPath, target string) (int, error) {
	if n, ok := in.tree.Get(target); !ok || !n.Mode.IsRegular() {
		return 0, nil // the list's binary is not installed
	}
	body, err := in.readFile(listPath)
	if err != nil {
		return 0, err
	}
	where := strconv.Quote("/" + listPath)
	if o := in.fileOwn[listPath]; o != nil {
		where = fmt.Sprintf("package %s: %s", o.rec, where)
	}
	made := 0
	sc := bufio.NewScanner(bytes.NewReader(body))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		p, ok := appletPath(text)
		if !ok {
			return made, fmt.Errorf("%s: line %d: %q is not an applet path (bin, sbin, usr/bin or usr/sbin, then a name)", where, line, text)
		}
		if _, exists := in.tree.Get(p); exists {
			continue
		}
		if err := in.tree.MkdirAll(path.Dir("/" + p)[1:], rootfs.Node{Mode: 0o755, ModTime: in.time}); err != nil {
			return made, fmt.Errorf("%s: line %d: linking %q: %w", where, line, p, err)
		}
		if err := in.tree.Add(p, in.symlink(target)); err != nil {
			return made, fmt.Errorf("%s: line %d: linking %q: %w", where, line, p, err)
		}
		made++
	}
	return made, sc.Err()
}

// appletPath returns the tree path of a line of a busybox-paths.d list if
// it is one that `busybox --install -s` could make, which is what the
// trigger runs: the list is only a record of the binary's own applet
// table, never read by a shell. So an applet lives in one of busybox's
// install directories (BB_DIR_BIN, _SBIN, _USR_BIN, _USR_SBIN) under a
// name of printable ASCII without a space, and the line is that path
// exactly (a leading "/" allowed), clean.
func appletPath(line string) (string, bool) {
	p := strings.TrimPrefix(line, "/")
	dir, name := path.Split(p)
	switch dir {
	case "bin/", "sbin/", "usr/bin/", "usr/sbin/":
	default:
		return "", false
	}
	if name == "" || name == "." || name == ".." {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return "", false
		}
	}
	return p, true
}

// triggerFires returns the installed directories that match one of the
// globs (apk fires a trigger for the directories a transaction touched;
// on a fresh root that is every directory a package installed into).
func (in *installer) triggerFires(globs []string) []string {
	var fired []string
	for _, p := range in.tree.Paths() {
		n, _ := in.tree.Get(p)
		if p == "" || !n.IsDir() || in.dirOwn[p] == nil {
			continue
		}
		for _, g := range globs {
			if ok, _ := path.Match(strings.TrimPrefix(g, "/"), p); ok {
				fired = append(fired, p)
				break
			}
		}
	}
	return fired
}

// readFile returns the content of a regular file of the tree (small ones:
// account files, lists).
func (in *installer) readFile(p string) ([]byte, error) {
	n, ok := in.tree.Get(p)
	if !ok || !n.Mode.IsRegular() {
		return nil, fmt.Errorf("%q is not a regular file", "/"+p)
	}
	if n.Content == nil {
		return nil, nil
	}
	rc, err := n.Content()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 64<<20))
}
