// Package bbaccounts makes system users and groups as Alpine's package
// scripts do: the addgroup and adduser applets of busybox 1.37
// (loginutils/addgroup.c, loginutils/adduser.c, libbb/update_passwd.c,
// libbb/die_if_bad_username.c) with Alpine's configuration and patches,
// their options read as busybox's getopt32 reads them, applied to
// /etc/passwd, /etc/group and /etc/shadow held in memory. Lookups read the
// files as musl's getpwnam and getgrnam do (src/passwd/getpwent_a.c,
// getgrent_a.c), since that is what busybox calls on Alpine. Splitting a
// script into its commands is internal/shscript's.
//
// Left out on purpose: /etc/gshadow (Alpine ships none, and busybox skips it
// when it is missing); making home directories and copying /etc/skel (the
// caller owns the tree: Created says what busybox would have made); the
// interactive passwd that adduser runs without -D (the account stays locked).
// Where busybox would fail because /etc/passwd or /etc/group is missing, or
// would skip the shadow line because /etc/shadow is missing, a missing file
// here is an empty one that gets the lines.
package bbaccounts

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Alpine's busybox configuration (aports main/busybox/busyboxconfig):
// CONFIG_FIRST_SYSTEM_ID, CONFIG_LAST_SYSTEM_ID and CONFIG_LAST_ID. System
// accounts (-S) get the first free id in [FirstSystemID, LastSystemID], other
// accounts the first free one in [LastSystemID+1, LastID]; an explicit -u or
// -g may be anything in [0, LastID].
const (
	FirstSystemID = 100
	LastSystemID  = 999
	LastID        = 256000
)

// loginNameMax is musl's LOGIN_NAME_MAX, the bound die_if_bad_username
// enforces (including the terminating NUL).
const loginNameMax = 256

var (
	// ErrExists matches an *InUseError for a user or group name that is
	// already taken: what a script's "addgroup -S x 2>/dev/null" tolerates.
	ErrExists = errors.New("already exists")
	// ErrUsage matches a command line busybox would answer with its usage
	// text: an unknown option, a missing option argument, too few or too
	// many operands.
	ErrUsage = errors.New("bad usage")
	// ErrNoUIDs and ErrNoGIDs mean the id range was full.
	ErrNoUIDs = errors.New("no uids left")
	ErrNoGIDs = errors.New("no gids left")
)

// InUseError is busybox's "WHAT 'NAME' in use": WHAT is "user", "group",
// "uid" or "gid". It matches ErrExists only when NAME is the account the
// command was to make (adduser's user, addgroup's group): a taken id, or
// adduser finding a group of the user's name, is a conflict, not an
// account that is already there.
type InUseError struct {
	What, Name string
	exists     bool
}

func (e *InUseError) Error() string { return fmt.Sprintf("%s '%s' in use", e.What, e.Name) }

// Is reports whether target is ErrExists and the account already exists.
func (e *InUseError) Is(target error) bool { return target == ErrExists && e.exists }

// UnknownError is busybox's "unknown user NAME" or "unknown group NAME",
// for example adduser -G naming a group that does not exist.
type UnknownError struct {
	What, Name string
}

func (e *UnknownError) Error() string { return "unknown " + e.What + " " + strconv.Quote(e.Name) }

// Account is a user that AddUser created, with what busybox would then do
// to its home directory, which is left to the caller.
type Account struct {
	Name  string
	UID   uint32
	GID   uint32
	Group string // the primary group's name
	Gecos string
	Home  string
	Shell string
	// System is -S.
	System bool
	// MakeHome is false under -H. Otherwise busybox runs mkdir(Home, 0755)
	// without parents; if that made a new directory it copies Skel into
	// it and chowns the copy UID:GID; new or already there, Home is then
	// chowned UID:GID and chmod 02755. If mkdir fails for another reason
	// than EEXIST (a missing parent), nothing is changed.
	MakeHome bool
	// Skel is the -k directory, "/etc/skel" without it; busybox is silent
	// about a missing skeleton unless -k named it (SkelGiven).
	Skel      string
	SkelGiven bool
	// AskPassword is true without -D and -S, where busybox would run
	// passwd interactively; the account stays locked ("!") here.
	AskPassword bool
}

// Group is a group that AddGroup or AddUser created.
type Group struct {
	Name string
	GID  uint32
}

// Accounts holds /etc/passwd, /etc/group and /etc/shadow as ordered lines.
// A file no command changed comes back byte for byte; a changed one is
// rewritten the way update_passwd writes it, every line ending in "\n".
type Accounts struct {
	passwd, group, shadow acctFile
	created               []Account
	createdGroups         []Group
}

type acctFile struct {
	orig    []byte
	lines   []string
	changed bool
	backup  []byte // the file before the last rewrite; nil if none
}

// Parse reads the three files; nil or empty means missing. Lines
// that are not records are kept verbatim; the only error is a NUL byte,
// which the C programs that read these files would cut the line at.
func Parse(passwd, group, shadow []byte) (*Accounts, error) {
	a := &Accounts{}
	for _, f := range []struct {
		name string
		data []byte
		dst  *acctFile
	}{{"/etc/passwd", passwd, &a.passwd}, {"/etc/group", group, &a.group}, {"/etc/shadow", shadow, &a.shadow}} {
		if i := bytes.IndexByte(f.data, 0); i >= 0 {
			line := 1 + bytes.Count(f.data[:i], []byte("\n"))
			return nil, fmt.Errorf("parsing %s: line %d: NUL byte", f.name, line)
		}
		*f.dst = acctFile{orig: bytes.Clone(f.data)}
		if s := string(f.data); s != "" {
			// Lines as xmalloc_fgetline returns them: a last line
			// without "\n" is still a line.
			f.dst.lines = strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		}
	}
	return a, nil
}

// Passwd, Group and Shadow return the files' current bytes.
func (a *Accounts) Passwd() []byte { return a.passwd.bytes() }
func (a *Accounts) Group() []byte  { return a.group.bytes() }
func (a *Accounts) Shadow() []byte { return a.shadow.bytes() }

// Changed reports which files a command has rewritten.
func (a *Accounts) Changed() (passwd, group, shadow bool) {
	return a.passwd.changed, a.group.changed, a.shadow.changed
}

// Backups returns what update_passwd leaves as /etc/passwd-, /etc/group-
// and /etc/shadow-: each file as it was before its last rewrite (a hard
// link to the old file, so with the old mode and owner), nil where the file
// was not rewritten or did not exist before. The rewritten file itself keeps
// the old one's mode and owner.
func (a *Accounts) Backups() (passwd, group, shadow []byte) {
	return bytes.Clone(a.passwd.backup), bytes.Clone(a.group.backup), bytes.Clone(a.shadow.backup)
}

// Created lists the users AddUser made, in order.
func (a *Accounts) Created() []Account { return append([]Account(nil), a.created...) }

// CreatedGroups lists the groups AddGroup and AddUser made, in order.
func (a *Accounts) CreatedGroups() []Group { return append([]Group(nil), a.createdGroups...) }

// LookupUser returns the uid of the first passwd record named name, as
// getpwnam does.
func (a *Accounts) LookupUser(name string) (uid uint32, ok bool) {
	pw, ok := a.user(name)
	return pw.uid, ok
}

// LookupGroup returns the gid of the first group record named name, as
// getgrnam does.
func (a *Accounts) LookupGroup(name string) (gid uint32, ok bool) {
	gr, ok := a.groupNamed(name)
	return gr.gid, ok
}

func (f *acctFile) bytes() []byte {
	if !f.changed {
		return bytes.Clone(f.orig)
	}
	var b bytes.Buffer
	for _, l := range f.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// records returns the lines as musl's getline loop sees them: it clears the
// last byte of every line read, which is the "\n" except on a last line
// without one, which loses its last character.
func (f *acctFile) records() []string {
	if f.changed || len(f.orig) == 0 || f.orig[len(f.orig)-1] == '\n' {
		return f.lines
	}
	lines := append([]string(nil), f.lines...)
	last := lines[len(lines)-1]
	lines[len(lines)-1] = last[:len(last)-1]
	return lines
}

// keepBackup is update_passwd's backup: before writing FILE+ and renaming
// it over FILE, it links FILE- to the current FILE.
func (f *acctFile) keepBackup() {
	if f.changed || len(f.orig) > 0 {
		f.backup = f.bytes()
	}
}

// replaceAppend is update_passwd(FILE, NAME, REST, NULL) as the add applets
// call it: every line starting "NAME:" is dropped and "NAME:REST" appended.
func (f *acctFile) replaceAppend(name, rest string) {
	f.keepBackup()
	prefix := name + ":"
	kept := f.lines[:0:0]
	for _, l := range f.lines {
		if !strings.HasPrefix(l, prefix) {
			kept = append(kept, l)
		}
	}
	f.lines = append(kept, prefix+rest)
	f.changed = true
}

// addMember is update_passwd(FILE, GROUP, NULL, MEMBER) in addgroup: every
// line starting "GROUP:" gets ",MEMBER", or "MEMBER" after a final ':'.
func (f *acctFile) addMember(group, member string) {
	f.keepBackup()
	prefix := group + ":"
	for i, l := range f.lines {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		if strings.HasSuffix(l, ":") {
			f.lines[i] = l + member
		} else {
			f.lines[i] = l + "," + member
		}
		f.changed = true
	}
}

type pwRecord struct {
	name       string
	uid, gid   uint32
	dir, shell string
}

type grRecord struct {
	name    string
	gid     uint32
	members []string
}

// cutName splits off the name the way getpwent_a does: the search for the
// first ':' starts at the second byte, so a line's first byte is always
// part of the name.
func cutName(line string) (name, rest string, ok bool) {
	if line == "" {
		return "", "", false
	}
	i := strings.IndexByte(line[1:], ':')
	if i < 0 {
		return "", "", false
	}
	return line[:1+i], line[2+i:], true
}

// atou is musl's: the leading digits, wrapping like C unsigned arithmetic.
func atou(s string) (uint32, string) {
	var x uint32
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		x = 10*x + uint32(s[i]-'0')
	}
	return x, s[i:]
}

func parsePasswd(line string) (pwRecord, bool) {
	var pw pwRecord
	var rest string
	var ok bool
	if pw.name, rest, ok = cutName(line); !ok {
		return pw, false
	}
	if _, rest, ok = strings.Cut(rest, ":"); !ok { // password
		return pw, false
	}
	if pw.uid, rest = atou(rest); !strings.HasPrefix(rest, ":") {
		return pw, false
	}
	if pw.gid, rest = atou(rest[1:]); !strings.HasPrefix(rest, ":") {
		return pw, false
	}
	if _, rest, ok = strings.Cut(rest[1:], ":"); !ok { // gecos
		return pw, false
	}
	if pw.dir, pw.shell, ok = strings.Cut(rest, ":"); !ok {
		return pw, false
	}
	return pw, true
}

func parseGroup(line string) (grRecord, bool) {
	var gr grRecord
	var rest string
	var ok bool
	if gr.name, rest, ok = cutName(line); !ok {
		return gr, false
	}
	if _, rest, ok = strings.Cut(rest, ":"); !ok { // password
		return gr, false
	}
	if gr.gid, rest = atou(rest); !strings.HasPrefix(rest, ":") {
		return gr, false
	}
	if rest = rest[1:]; rest != "" {
		gr.members = strings.Split(rest, ",")
	}
	return gr, true
}

func (a *Accounts) findUser(match func(pwRecord) bool) (pwRecord, bool) {
	for _, l := range a.passwd.records() {
		if pw, ok := parsePasswd(l); ok && match(pw) {
			return pw, true
		}
	}
	return pwRecord{}, false
}

func (a *Accounts) findGroup(match func(grRecord) bool) (grRecord, bool) {
	for _, l := range a.group.records() {
		if gr, ok := parseGroup(l); ok && match(gr) {
			return gr, true
		}
	}
	return grRecord{}, false
}

func (a *Accounts) user(name string) (pwRecord, bool) {
	return a.findUser(func(pw pwRecord) bool { return pw.name == name })
}

func (a *Accounts) uidUsed(uid uint32) bool {
	_, ok := a.findUser(func(pw pwRecord) bool { return pw.uid == uid })
	return ok
}

func (a *Accounts) groupNamed(name string) (grRecord, bool) {
	return a.findGroup(func(gr grRecord) bool { return gr.name == name })
}

func (a *Accounts) gidUsed(gid uint32) bool {
	_, ok := a.findGroup(func(gr grRecord) bool { return gr.gid == gid })
	return ok
}
