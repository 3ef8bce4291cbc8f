package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/rootfs"

	"github.com/rootfs-synth/rootfs-synth/internal/bbaccounts"
)

// The account files: parsed from the tree when a script first needs them
// (and again whenever a package installs one of them), written back once
// all packages are in.

var accountFiles = []string{"etc/passwd", "etc/group", "etc/shadow"}

func (in *installer) ensureAccounts() error {
	if in.accounts != nil {
		return nil
	}
	return in.loadAccounts()
}

func (in *installer) loadAccounts() error {
	var data [3][]byte
	for i, p := range accountFiles {
		if _, ok := in.tree.Get(p); !ok {
			continue
		}
		b, err := in.readFile(p)
		if err != nil {
			return err
		}
		data[i] = b
	}
	a, err := bbaccounts.Parse(data[0], data[1], data[2])
	if err != nil {
		return err
	}
	// A package that ships an account file after scripts made users
	// (apk would keep the changed file as a modified config file and put
	// the package's beside it as .apk-new): the accounts made so far are
	// made again in the new files, so no user that owns files is lost.
	for _, args := range in.accountCmds {
		var err error
		if args[0] == "addgroup" {
			err = a.AddGroup(args[1:])
		} else {
			err = a.AddUser(args[1:], in.time)
		}
		if err != nil && !errors.Is(err, bbaccounts.ErrExists) {
			return fmt.Errorf("making again, in the new account files, what %q made: %w", strings.Join(args, " "), err)
		}
	}
	in.accounts = a
	in.seenUsers, in.seenGroups = len(a.Created()), len(a.CreatedGroups())
	return nil
}

// noteAccounts records, for the report, the users and groups package ps
// made since the last call, and makes their home directories as busybox
// adduser does: mkdir HOME 0755 without parents, then chown UID:GID and
// chmod 02755 (the skeleton /etc/skel is copied only when it exists; Alpine
// has none).
func (in *installer) noteAccounts(ps *pkgState) {
	groups, users := in.accounts.CreatedGroups(), in.accounts.Created()
	for _, g := range groups[in.seenGroups:] {
		in.res.Groups = append(in.res.Groups, AccountReport{Name: g.Name, ID: g.GID, Package: ps.rec.String()})
	}
	for _, u := range users[in.seenUsers:] {
		in.res.Users = append(in.res.Users, AccountReport{Name: u.Name, ID: u.UID, GID: u.GID, Home: u.Home, Shell: u.Shell, Package: ps.rec.String()})
		if !u.MakeHome {
			continue
		}
		p, err := rootfs.Clean(u.Home)
		if err != nil || p == "" {
			continue
		}
		n, exists := in.tree.Get(p)
		if !exists {
			if parent, ok := in.tree.Get(parentDir(p)); !ok || !parent.IsDir() {
				continue // mkdir fails: no parents are made
			}
			n = &rootfs.Node{ModTime: in.time}
			if in.tree.Add(p, n) != nil {
				continue
			}
		} else if !n.IsDir() {
			continue
		}
		n.Mode = fs.ModeDir | fs.ModeSetgid | 0o755
		n.UID, n.GID = u.UID, u.GID
	}
	in.seenGroups, in.seenUsers = len(groups), len(users)
}

// writeAccounts writes the account files back when scripts changed them,
// and gives root the locked password "*" that Alpine's own images carry
// (`sed -i 's/^root::/root:*:/' etc/shadow` in alpine-make-rootfs and the
// minirootfs recipe): never an empty password.
func (in *installer) writeAccounts(context.Context) error {
	if in.accounts == nil {
		if _, ok := in.tree.Get("etc/shadow"); !ok {
			return nil
		}
		if err := in.loadAccounts(); err != nil {
			return err
		}
	}
	passwd := in.accounts.Passwd()
	if in.opts.RootShell != "" {
		passwd = setShell(passwd, "root", in.opts.RootShell)
	}
	files := [][]byte{passwd, in.accounts.Group(), lockRoot(in.accounts.Shadow())}
	for i, p := range accountFiles {
		old, exists := in.tree.Get(p)
		if !exists && len(files[i]) == 0 {
			continue
		}
		if exists {
			if cur, err := in.readFile(p); err == nil && bytes.Equal(cur, files[i]) {
				continue
			}
		}
		n := &rootfs.Node{Mode: 0o644, ModTime: in.time}
		if p == "etc/shadow" {
			n.Mode, n.GID = 0o640, shadowGID(in.accounts)
		}
		if exists {
			n.Mode, n.UID, n.GID, n.Xattrs = old.Mode, old.UID, old.GID, old.Xattrs
		}
		if err := in.putFile(p, n, files[i]); err != nil {
			return err
		}
	}
	return nil
}

func shadowGID(a *bbaccounts.Accounts) uint32 {
	if gid, ok := a.LookupGroup("shadow"); ok {
		return gid
	}
	return 0
}

// lockRoot turns an empty root password into "*".
func lockRoot(shadow []byte) []byte {
	if bytes.HasPrefix(shadow, []byte("root::")) {
		return append([]byte("root:*:"), shadow[len("root::"):]...)
	}
	return bytes.ReplaceAll(shadow, []byte("\nroot::"), []byte("\nroot:*:"))
}

// setShell gives user the login shell sh in passwd text (the seventh
// field of its line).
func setShell(passwd []byte, user, sh string) []byte {
	lines := bytes.SplitAfter(passwd, []byte("\n"))
	for i, l := range lines {
		f := bytes.Split(bytes.TrimSuffix(l, []byte("\n")), []byte(":"))
		if len(f) == 7 && string(f[0]) == user {
			f[6] = []byte(sh)
			nl := []byte(nil)
			if bytes.HasSuffix(l, []byte("\n")) {
				nl = []byte("\n")
			}
			lines[i] = append(bytes.Join(f, []byte(":")), nl...)
		}
	}
	return bytes.Join(lines, nil)
}

// putFile stores data and puts it at p with n's attributes, replacing
// what was there. The file is not owned by any package.
func (in *installer) putFile(p string, n *rootfs.Node, data []byte) error {
	sum, err := in.store.putBytes(data)
	if err != nil {
		return err
	}
	n.Mode = n.Mode &^ fs.ModeType
	n.Size = int64(len(data))
	n.Content = nil
	if n.Size > 0 {
		n.Content = in.store.fileOpener(sum, n.Size, p)
	}
	in.sums[n] = sum
	if err := in.tree.MkdirAll(parentDir(p), rootfs.Node{Mode: 0o755, ModTime: in.time}); err != nil {
		return err
	}
	if old, ok := in.tree.Get(p); ok {
		delete(in.sums, old)
	}
	return in.tree.Replace(p, n)
}

func parentDir(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return ""
}
