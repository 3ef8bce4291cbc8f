package provision

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/internal/bbaccounts"
	"github.com/rootfs-synth/rootfs-synth/internal/shscript"
)

// maxCallDepth bounds nested function calls: a script that recurses
// deeper is not emulated (sh itself would recurse until it ran out of
// stack).
const maxCallDepth = 16

// maxSteps bounds the commands one script runs, function calls and the
// commands in their bodies each counted: ten nested functions that each
// call the next ten times are 10^9 calls in ten lines. A script that
// needs more is not emulated (install scripts run a few dozen); it is
// stopped there, as an exit would stop it.
const maxSteps = 10000

// scriptRun is the state of one script being emulated.
type scriptRun struct {
	ctx     context.Context // the Provision's: cancelling it stops the script
	ps      *pkgState
	effects []string
	why     string                        // the first thing that could not be done
	funcs   map[string][]shscript.Command // the functions defined so far
	exited  bool                          // an exit ran: nothing more runs
	stopped bool                          // past maxSteps: nothing more runs, in a substitution either
	steps   int                           // commands run
	depth   int                           // of function calls
	out     *strings.Builder              // a command substitution's output, when one runs
	unknown int                           // how many commands were not emulated
}

// notDone records the first reason the script is not reproduced.
func (r *scriptRun) notDone(format string, args ...any) {
	r.unknown++
	if r.why == "" {
		r.why = fmt.Sprintf(format, args...)
	}
}

// emulate applies the commands of a script and returns what it did and,
// when something could not be done, why.
func (in *installer) emulate(ctx context.Context, ps *pkgState, body []byte) (effects []string, why string, err error) {
	cmds, err := shscript.Split(body)
	if err != nil {
		return nil, "", err
	}
	r := &scriptRun{ctx: ctx, ps: ps, funcs: map[string][]shscript.Command{}}
	if _, _, err := in.runList(r, cmds); err != nil {
		return nil, "", err
	}
	return r.effects, r.why, nil
}

// runList runs a list of commands as sh would, up to an exit, and returns
// the status of the last one that ran (true for success, and for an empty
// list) and whether that status is known.
func (in *installer) runList(r *scriptRun, cmds []shscript.Command) (ok, known bool, err error) {
	// ok is whether the last command succeeded, for "a || b" and
	// "a && b": when a's status is known, so is whether b runs. When it
	// is not, neither is whether b runs, as for an if whose condition is
	// not known: b runs nothing, is not done, and the status stays
	// unknown for what follows it in the and-or list.
	ok, known = true, true
	prevSep := ""
	for _, c := range cmds {
		if r.exited || r.stopped {
			break
		}
		if err := r.ctx.Err(); err != nil {
			return false, false, err
		}
		andOr := prevSep == "&&" || prevSep == "||"
		skip := known && ((prevSep == "||" && ok) || (prevSep == "&&" && !ok))
		prevSep = c.Sep
		switch {
		case andOr && !known:
			r.notDone("line %d: whether %q runs depends on a status not known", c.Line, c.Text)
			continue
		case skip:
			continue // ok stays: "a || b || c" skips both
		}
		if ok, known, err = in.runCommand(r, c); err != nil {
			return false, false, err
		}
	}
	return ok, known, nil
}

// runCommand runs one command: an if, a function definition or call, or a
// simple command.
func (in *installer) runCommand(r *scriptRun, c shscript.Command) (ok, known bool, err error) {
	if r.steps++; r.steps > maxSteps {
		// This reason, not an earlier one, says why the effects end
		// where they do.
		r.stopped = true
		r.unknown++
		r.why = fmt.Sprintf("line %d: %q: stopped after %d commands, the emulator's budget for one script", c.Line, c.Text, maxSteps)
		return true, false, nil
	}
	switch {
	case c.Unsupported != "":
		r.notDone("line %d: %s: %q", c.Line, c.Unsupported, c.Text)
		return true, false, nil
	case c.Pipeline || redirectsOutput(c):
		r.notDone("line %d: %q pipes or redirects data, which is not emulated", c.Line, c.Text)
		return true, false, nil
	case c.Func != nil:
		r.funcs[c.Func.Name] = c.Func.Body
		return true, true, nil
	case c.If != nil:
		return in.runIf(r, c)
	case c.Case != nil:
		return in.runCase(r, c)
	case len(c.Args) == 0:
		return true, true, nil
	}
	if body, isFunc := r.funcs[c.Args[0]]; isFunc {
		// A body that used its arguments would expand them, which is
		// not emulated (and recorded as such when it runs).
		if r.depth >= maxCallDepth {
			r.notDone("line %d: %q calls functions more than %d deep", c.Line, c.Text, maxCallDepth)
			return true, false, nil
		}
		r.depth++
		defer func() { r.depth-- }()
		return in.runList(r, body)
	}
	switch prog := c.Args[0]; {
	case prog == "exit":
		r.exited = true
		if len(c.Args) == 1 || c.Args[1] == "0" {
			return true, true, nil
		}
		// apk reports the package's script as failed.
		r.notDone("line %d: %q fails the script", c.Line, c.Text)
		return false, true, nil
	case prog == "[" || prog == "test":
		result, decided := in.evalTest(c.Args)
		if !decided {
			r.notDone("line %d: test %q is not emulated", c.Line, c.Text)
			return true, false, nil
		}
		return result, true, nil
	case prog == "false":
		return false, true, nil
	case prog == "readlink":
		return in.readlink(r, c)
	}
	eff, done, err := in.command(r.ps, c)
	var failed commandFailed
	switch {
	case err == nil:
	case errors.Is(err, bbaccounts.ErrExists):
		// The account is there already, so the effect holds (scripts
		// say "2>/dev/null" for this); the command itself fails.
		r.effects = append(r.effects, strings.Join(c.Args, " ")+": exists already")
		return false, true, nil
	case errors.As(err, &failed):
		// The command would fail in the guest too, and the script
		// goes on (apk runs scripts without -e).
		r.notDone("line %d: %q would fail: %v", c.Line, c.Text, failed.err)
		return false, true, nil
	default:
		return false, false, fmt.Errorf("line %d %q: %w", c.Line, c.Text, err)
	}
	if !done {
		r.notDone("line %d: command %q is not emulated", c.Line, c.Text)
		return true, false, nil
	}
	r.effects = append(r.effects, eff...)
	return true, true, nil
}

// runIf runs the branch the condition chooses; a condition any command
// of which was not emulated runs neither.
func (in *installer) runIf(r *scriptRun, c shscript.Command) (ok, known bool, err error) {
	unknown := r.unknown
	cond, _, err := in.runList(r, c.If.Cond)
	if err != nil || r.exited {
		return cond, true, err
	}
	if r.unknown != unknown {
		// The reason is recorded already.
		return true, false, nil
	}
	branch := c.If.Else
	if cond {
		branch = c.If.Then
	}
	// An if whose condition fails and has no else succeeds.
	return in.runList(r, branch)
}

// runCase runs the list of the first item a pattern of which matches the
// word, or the output of its command substitution; when that output is
// not known (a command in it not emulated), no list runs.
func (in *installer) runCase(r *scriptRun, c shscript.Command) (ok, known bool, err error) {
	word := c.Case.Word
	if c.Case.Subst != nil {
		// A subshell: its exit ends only it, and its effects stay.
		saved, exited, unknown := r.out, r.exited, r.unknown
		var out strings.Builder
		r.out = &out
		_, _, err := in.runList(r, c.Case.Subst)
		r.out, r.exited = saved, exited
		if err != nil {
			return false, false, err
		}
		if r.unknown != unknown {
			return true, false, nil
		}
		word = strings.TrimRight(out.String(), "\n")
	}
	for _, it := range c.Case.Items {
		for _, pat := range it.Patterns {
			match, decided := patternMatches(pat, word)
			if !decided {
				r.notDone("line %d: case pattern %q is not emulated", c.Line, pat)
				return true, false, nil
			}
			if match {
				return in.runList(r, it.Body)
			}
		}
	}
	return true, true, nil
}

// patternMatches is sh's pattern matching as busybox's ash does it, with
// musl's fnmatch: case, not pathname expansion, so "*" and "?" match "/"
// too. In a bracket expression a leading "!" or "^" negates it, a "]"
// first in it or a "-" first or last is itself, and a "[" that no "]"
// closes is itself. A "\" left in a pattern was quoted, so it is itself
// too (a pattern with a quoted "*", "?" or "[" is not split). decided is
// false for a character class ([:alpha:], [.a.], [=a=]), not emulated.
func patternMatches(pattern, s string) (match, decided bool) {
	if !strings.ContainsAny(pattern, "*?[") {
		return pattern == s, true
	}
	p, str := []rune(pattern), []rune(s)
	// On a mismatch, the last "*" takes one more rune and matching goes
	// on after it: an earlier "*" need never take more.
	px, sx, starP, starS := 0, 0, -1, 0
	for px < len(p) || sx < len(str) {
		if px < len(p) {
			switch p[px] {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				if sx < len(str) {
					px, sx = px+1, sx+1
					continue
				}
			case '[':
				end, decided := bracketEnd(p[px:])
				if !decided {
					return false, false
				}
				if end > 0 {
					if sx < len(str) && inBracket(p[px+1:px+end-1], str[sx]) {
						px, sx = px+end, sx+1
						continue
					}
					break
				}
				fallthrough // not closed: a "[" like any other rune
			default:
				if sx < len(str) && p[px] == str[sx] {
					px, sx = px+1, sx+1
					continue
				}
			}
		}
		if starP < 0 || starS >= len(str) {
			return false, true
		}
		starS++
		px, sx = starP+1, starS
	}
	return true, true
}

// bracketEnd returns the length of the bracket expression p starts with,
// its closing "]" included, or 0 when no "]" closes it; decided is false
// when it holds a character class.
func bracketEnd(p []rune) (end int, decided bool) {
	k := 1
	if k < len(p) && (p[k] == '!' || p[k] == '^') {
		k++
	}
	if k < len(p) && p[k] == ']' {
		k++
	}
	for ; k < len(p) && p[k] != ']'; k++ {
		if p[k] == '[' && k+1 < len(p) && strings.ContainsRune(":.=", p[k+1]) {
			return 0, false
		}
	}
	if k == len(p) {
		return 0, true
	}
	return k + 1, true
}

// inBracket reports whether c is in the bracket expression set (what is
// between "[" and "]"), read as musl's fnmatch reads it: "a-z" is a
// range, empty when a > z, and its end counts once more on its own.
func inBracket(set []rune, c rune) bool {
	negate := len(set) > 0 && (set[0] == '!' || set[0] == '^')
	if negate {
		set = set[1:]
	}
	prev := rune(0)
	for i, r := range set {
		switch {
		case r == '-' && i > 0 && i+1 < len(set):
			if prev <= c && c <= set[i+1] {
				return !negate
			}
		case r == c:
			return !negate
		default:
			prev = r
		}
	}
	return negate
}

// readlink is busybox's readlink without options: a symlink's target on
// the output, else failure.
func (in *installer) readlink(r *scriptRun, c shscript.Command) (ok, known bool, err error) {
	if len(c.Args) != 2 || strings.HasPrefix(c.Args[1], "-") {
		r.notDone("line %d: command %q is not emulated", c.Line, c.Text)
		return true, false, nil
	}
	p, err := guestPath(c.Args[1])
	if err != nil {
		return false, false, err
	}
	at, err := in.tree.Resolve(p, false)
	if err != nil {
		return false, true, nil
	}
	n, exists := in.tree.Get(at)
	if !exists || n.Mode&fs.ModeSymlink == 0 {
		return false, true, nil
	}
	if r.out != nil {
		r.out.WriteString(n.Linkname + "\n")
	}
	return true, true, nil
}

// evalTest decides a test or [ command on the tree, as busybox's test
// does for the forms scripts use to look at a fresh root: ! EXPR, -e -f -d
// -L -h -s -x -r -w PATH, -n -z STRING, STRING = STRING, STRING !=
// STRING, STRING. decided is false for anything else (-a, -o,
// parentheses, numeric comparisons).
func (in *installer) evalTest(args []string) (result, decided bool) {
	expr := args[1:]
	if args[0] == "[" {
		if len(expr) == 0 || expr[len(expr)-1] != "]" {
			return false, false
		}
		expr = expr[:len(expr)-1]
	}
	negate := false
	// A lone "!" is a string, not a negation (test ! is true).
	for len(expr) > 1 && expr[0] == "!" {
		negate, expr = !negate, expr[1:]
	}
	var v bool
	switch len(expr) {
	case 0:
		v = false
	case 1:
		v = expr[0] != ""
	case 2:
		var ok bool
		if v, ok = in.unaryTest(expr[0], expr[1]); !ok {
			return false, false
		}
	case 3:
		switch expr[1] {
		case "=", "==":
			v = expr[0] == expr[2]
		case "!=":
			v = expr[0] != expr[2]
		default:
			return false, false
		}
	default:
		return false, false
	}
	return v != negate, true
}

// unaryTest is test OP ARG for the string and file operators. A path is
// relative to the root (apk runs scripts in it) and followed through the
// tree's symlinks except by -L and -h; the script runs as root, so -r and
// -w hold for anything that exists, -x for directories and files with an
// execute bit.
func (in *installer) unaryTest(op, arg string) (result, ok bool) {
	switch op {
	case "-n":
		return arg != "", true
	case "-z":
		return arg == "", true
	case "-e", "-f", "-d", "-L", "-h", "-s", "-x", "-r", "-w":
	default:
		return false, false
	}
	p, err := guestPath(arg)
	if err != nil {
		return false, false
	}
	if op == "-L" || op == "-h" {
		n, exists := in.tree.Get(p)
		return exists && n.Mode&fs.ModeSymlink != 0, true
	}
	resolved, err := in.tree.Resolve(p, true)
	if err != nil {
		return false, true // a symlink loop: stat fails
	}
	n, exists := in.tree.Get(resolved)
	if !exists {
		return false, true
	}
	switch op {
	case "-f":
		return n.Mode.IsRegular(), true
	case "-d":
		return n.IsDir(), true
	case "-s":
		return n.IsDir() || n.Size > 0, true // a directory's size is never 0 on ext4
	case "-x":
		return n.IsDir() || n.Mode&0o111 != 0, true
	}
	return true, true
}
