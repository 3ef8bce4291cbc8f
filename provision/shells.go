package provision

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// shellsFile is the list add-shell and remove-shell edit.
const shellsFile = "etc/shells"

// editShells is what busybox's add-shell (remove false) or remove-shell
// (loginutils/add-remove-shell.c) makes of /etc/shells: every line of the
// old file is copied, trailing newline added, except, for remove-shell,
// a line equal to one of the shells; then add-shell appends each shell no
// line equalled, in order.
func editShells(old []byte, shells []string, remove bool) []byte {
	var b bytes.Buffer
	present := make([]bool, len(shells))
	text := string(old)
	for text != "" {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		keep := true
		for i, sh := range shells {
			if present[i] || sh != line {
				continue
			}
			if remove {
				keep = false
				break
			}
			present[i] = true
		}
		if keep {
			b.WriteString(line + "\n")
		}
	}
	if !remove {
		for i, sh := range shells {
			if !present[i] {
				b.WriteString(sh + "\n")
			}
		}
	}
	return b.Bytes()
}

// readShells returns where /etc/shells is (through symlinks, as busybox
// follows them), its content and permissions, and whether it exists; a
// symlink loop or a non-file there is a commandFailed (add-shell fails on
// it).
func (in *installer) readShells() (p string, data []byte, perm fs.FileMode, exists bool, err error) {
	if p, err = in.tree.Resolve(shellsFile, true); err != nil {
		return "", nil, 0, false, commandFailed{err}
	}
	n, exists := in.tree.Get(p)
	if !exists {
		return p, nil, 0o644, false, nil
	}
	if !n.Mode.IsRegular() {
		return "", nil, 0, false, commandFailed{fmt.Errorf("%q is not a regular file", "/"+p)}
	}
	data, err = in.readFile(p)
	return p, data, n.Mode.Perm(), true, err
}

// shellsCommand applies add-shell or remove-shell to the tree's
// /etc/shells. Like busybox it writes a new file in any case: root's,
// with the old file's permissions (0644 when there was none), as under
// umask 022.
func (in *installer) shellsCommand(prog string, shells []string) ([]string, bool, error) {
	p, old, perm, _, err := in.readShells()
	if err != nil {
		return nil, false, err
	}
	data := editShells(old, shells, prog == "remove-shell")
	if err := in.putFile(p, &rootfs.Node{Mode: perm &^ 0o022, ModTime: in.time}, data); err != nil {
		return nil, false, err
	}
	in.shellCmds = append(in.shellCmds, append([]string{prog}, shells...))
	return []string{strings.Join(append([]string{prog}, shells...), " ")}, true, nil
}

// replayShells applies the add-shell and remove-shell commands of the
// packages' scripts again to the /etc/shells the overlays left: an
// overlay's file (the sandbox's own lists sbx-shell) replaces the one the
// scripts edited, and a shell a package registered must stay registered,
// as it would be were the package installed onto that root. The file is
// rewritten only when that changes it; where there is no file to edit
// (a directory, a symlink loop), nothing is.
func (in *installer) replayShells() error {
	if len(in.shellCmds) == 0 {
		return nil
	}
	p, old, perm, exists, err := in.readShells()
	if failed := (commandFailed{}); errors.As(err, &failed) {
		return nil
	} else if err != nil {
		return fmt.Errorf("reading /%s: %w", shellsFile, err)
	}
	data := old
	for _, c := range in.shellCmds {
		data = editShells(data, c[1:], c[0] == "remove-shell")
	}
	if exists && bytes.Equal(data, old) {
		return nil
	}
	return in.putFile(p, &rootfs.Node{Mode: perm, ModTime: in.time}, data)
}
