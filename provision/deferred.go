package provision

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// Deferral: a script the emulator cannot reproduce is stored in the image
// (Options.DeferredScriptsDir) for the guest to run once at first boot,
// in the order apk would have run it. Each is the package's own script,
// unchanged, named "NNN-<name>-<version>.<action>" so that a lexical
// listing is apk's order; "NNN-....args", when present, holds the
// arguments apk would have passed, one per line (the new version for an
// install script, the directories that fired for a trigger).

// deferredScript is one script stored for the first boot.
type deferredScript struct {
	name string // "<name>-<version>.<action>", as in apk's scripts archive
	body []byte
	args []string
}

// deferScript stores rep's script for the first boot when deferral is on
// and its name and arguments can be passed on as they are, and marks rep
// deferred; when they cannot, rep's reason says why.
func (in *installer) deferScript(rep *ScriptReport, body []byte, args []string) {
	if in.opts.DeferredScriptsDir == "" || rep.Status != statusNotReproduced {
		return
	}
	if !plainFileName(rep.Package + rep.Script) {
		rep.Why += fmt.Sprintf("; not deferred: %q cannot be a file name as it is", rep.Package+rep.Script)
		return
	}
	for _, a := range args {
		// The runner prints the arguments to the console ("running NAME
		// ARGS"), so an escape sequence in a directory's name would
		// reach the terminal; and it reads them one a line.
		if !consoleSafe(a) {
			rep.Why += fmt.Sprintf("; not deferred: argument %q holds a control character, which the first-boot runner would print to the console", a)
			return
		}
	}
	in.deferred = append(in.deferred, deferredScript{name: rep.Package + rep.Script, body: body, args: args})
	rep.Status = statusDeferred
}

// writeDeferred writes the deferred scripts into Options.DeferredScriptsDir
// (0755 files, root's, the build's time), or nothing when there are none.
func (in *installer) writeDeferred() error {
	if len(in.deferred) == 0 {
		return nil
	}
	dir, err := rootfs.Clean(in.opts.DeferredScriptsDir)
	if err != nil {
		return fmt.Errorf("deferred scripts directory %q: %w", in.opts.DeferredScriptsDir, err)
	}
	if err := in.tree.MkdirAll(dir, rootfs.Node{Mode: 0o755, ModTime: in.time}); err != nil {
		return err
	}
	// Numbered as wide as the count needs (at least 3 digits), so that
	// the runner's lexical order is apk's order past 999 too.
	width := max(3, len(strconv.Itoa(len(in.deferred))))
	for i, d := range in.deferred {
		p := path.Join(dir, fmt.Sprintf("%0*d-%s", width, i+1, d.name))
		if err := in.putFile(p, &rootfs.Node{Mode: 0o755, ModTime: in.time}, d.body); err != nil {
			return fmt.Errorf("writing /%s: %w", p, err)
		}
		if len(d.args) == 0 {
			continue
		}
		if err := in.putFile(p+".args", &rootfs.Node{Mode: 0o644, ModTime: in.time}, []byte(strings.Join(d.args, "\n")+"\n")); err != nil {
			return fmt.Errorf("writing /%s.args: %w", p, err)
		}
	}
	return nil
}

// consoleSafe reports whether s can be printed to a terminal as it is:
// UTF-8 (a lone byte 0x9b is CSI to an 8-bit terminal) without a C0 or C1
// control character or DEL.
func consoleSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// plainFileName reports whether a script's name can be a file name of
// the deferred directory as it is: apk's package name characters
// [A-Za-z0-9._+-] only (an index may give a name "/" too, which must not
// reach a path), not starting with a dot.
func plainFileName(name string) bool {
	if name == "" || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._+-", c) >= 0) {
			return false
		}
	}
	return true
}
