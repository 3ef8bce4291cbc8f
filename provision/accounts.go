package provision

// System users and groups as Alpine's package scripts make them: the
// addgroup and adduser applets of busybox 1.37 (loginutils/addgroup.c,
// loginutils/adduser.c, libbb/update_passwd.c, libbb/die_if_bad_username.c)
// with Alpine's configuration and patches, applied to /etc/passwd, /etc/group
// and /etc/shadow held in memory. Lookups read the files as musl's getpwnam
// and getgrnam do (src/passwd/getpwent_a.c, getgrent_a.c), since that is what
// busybox calls on Alpine.
//
// Left out on purpose: /etc/gshadow (Alpine ships none, and busybox skips it
// when it is missing); making home directories and copying /etc/skel (the
// caller owns the tree: Created says what busybox would have made); the
// interactive passwd that adduser runs without -D (the account stays locked).
// Where busybox would fail because /etc/passwd or /etc/group is missing, or
// would skip the shadow line because /etc/shadow is missing, a missing file
// here is an empty one that gets the lines.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
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

// ParseAccounts reads the three files; nil or empty means missing. Lines
// that are not records are kept verbatim; the only error is a NUL byte,
// which the C programs that read these files would cut the line at.
func ParseAccounts(passwd, group, shadow []byte) (*Accounts, error) {
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

// AddGroup runs busybox addgroup with args, the words after the command
// name: "[-g GID] [-S] GROUP" makes a group, "USER GROUP" adds an existing
// user to an existing group (nothing to do if already a member). Long
// options --gid and --system work too. On error nothing is changed.
func (a *Accounts) AddGroup(args []string) error {
	if err := a.addGroup(args); err != nil {
		return fmt.Errorf("addgroup: %w", err)
	}
	return nil
}

var addgroupOptions = optionSpec{
	short: "g:S",
	long:  map[string]byte{"gid": 'g', "system": 'S'},
}

func (a *Accounts) addGroup(args []string) error {
	opts, operands, err := getopt(args, addgroupOptions)
	if err != nil {
		return err
	}
	if len(operands) < 1 || len(operands) > 2 {
		return fmt.Errorf("%w: want [-g GID] [-S] [USER] GROUP, have %d operands", ErrUsage, len(operands))
	}
	if len(operands) == 2 {
		if _, ok := opts['g']; ok {
			return fmt.Errorf("%w: -g with USER GROUP", ErrUsage)
		}
		return a.addToGroup(operands[0], operands[1])
	}
	name := operands[0]
	if err := checkName(name); err != nil {
		return err
	}
	gid, explicit := uint32(0), false
	if v, ok := opts['g']; ok {
		if gid, err = parseID(v); err != nil {
			return err
		}
		explicit = true
	}
	_, system := opts['S']
	return a.newGroup(name, gid, explicit, system)
}

// newGroup is addgroup.c's new_group and xgroup_study.
func (a *Accounts) newGroup(name string, gid uint32, explicit, system bool) error {
	if _, ok := a.groupNamed(name); ok {
		return &InUseError{"group", name, true}
	}
	max := uint32(LastID)
	if !explicit {
		gid = LastSystemID + 1
		if system {
			gid, max = FirstSystemID, LastSystemID
		}
	}
	for a.gidUsed(gid) {
		if explicit {
			return &InUseError{"gid", strconv.FormatUint(uint64(gid), 10), false}
		}
		if gid == max {
			return ErrNoGIDs
		}
		gid++
	}
	a.group.replaceAppend(name, fmt.Sprintf("x:%d:", gid))
	a.createdGroups = append(a.createdGroups, Group{Name: name, GID: gid})
	return nil
}

// addToGroup is addgroup's USER GROUP form.
func (a *Accounts) addToGroup(user, group string) error {
	// The user may come from a package's own /etc/passwd, which names
	// are not checked in.
	if err := checkField("member", user, ":,"); err != nil {
		return err
	}
	if _, ok := a.user(user); !ok {
		return &UnknownError{"user", user}
	}
	gr, ok := a.groupNamed(group)
	if !ok {
		return &UnknownError{"group", group}
	}
	for _, m := range gr.members {
		if m == user {
			return nil
		}
	}
	a.group.addMember(group, user)
	return nil
}

var adduserOptions = optionSpec{
	short: "h:g:s:G:DSHu:k:",
	long: map[string]byte{
		"home": 'h', "gecos": 'g', "shell": 's', "ingroup": 'G',
		"disabled-password": 'D', "empty-password": 'D', "system": 'S',
		"no-create-home": 'H', "uid": 'u', "skel": 'k',
	},
}

// AddUser runs busybox adduser with args, the words after the command name:
// "[-h DIR] [-g GECOS] [-s SHELL] [-G GROUP] [-S] [-D] [-H] [-u UID]
// [-k SKEL] USER" makes a user, "USER GROUP" with no option adds an existing
// user to an existing group. The shadow line's last-change day is now's
// (pass SOURCE_DATE_EPOCH). On error nothing is changed.
//
// As in busybox: -S implies -D, defaults the group to "nogroup" and the
// shell to /sbin/nologin (Alpine's patch; upstream says /bin/false); without
// -G a group named after the user is made with gid = uid, the uid chosen
// free in both files; with -G the user becomes a member of that group too;
// the home defaults to /home/USER, the GECOS to "Linux User,,,", the shell to
// root's (apk runs scripts without $SHELL); a second operand after any option
// is ignored.
func (a *Accounts) AddUser(args []string, now time.Time) error {
	if err := a.addUser(args, now); err != nil {
		return fmt.Errorf("adduser: %w", err)
	}
	return nil
}

func (a *Accounts) addUser(args []string, now time.Time) error {
	opts, operands, err := getopt(args, adduserOptions)
	if err != nil {
		return err
	}
	if len(operands) < 1 || len(operands) > 2 {
		return fmt.Errorf("%w: want [OPTIONS] USER [GROUP], have %d operands", ErrUsage, len(operands))
	}
	if _, ok := opts['S']; ok { // getopt32's "SD": -S switches on -D
		opts['D'] = ""
	}
	uid, explicitUID := uint32(0), false
	if v, ok := opts['u']; ok {
		if uid, err = parseID(v); err != nil {
			return err
		}
		explicitUID = true
	}
	name := operands[0]
	if len(opts) == 0 && len(operands) == 2 {
		return a.addToGroup(name, operands[1])
	}
	if err := checkName(name); err != nil {
		return err
	}
	acct := Account{Name: name, Gecos: "Linux User,,,", Home: "/home/" + name, Shell: a.rootShell(), Skel: "/etc/skel"}
	option := func(c byte, dst *string) bool {
		v, ok := opts[c]
		if ok {
			*dst = v
		}
		return ok
	}
	option('h', &acct.Home)
	option('g', &acct.Gecos)
	shellGiven := option('s', &acct.Shell)
	groupGiven := option('G', &acct.Group)
	acct.SkelGiven = option('k', &acct.Skel)
	for _, f := range []struct{ what, v string }{{"gecos", acct.Gecos}, {"home", acct.Home}, {"shell", acct.Shell}} {
		if err := checkField(f.what, f.v, ":"); err != nil {
			return err
		}
	}
	_, acct.System = opts['S']
	_, noHome := opts['H']
	_, noPass := opts['D']
	acct.MakeHome, acct.AskPassword = !noHome, !noPass
	if acct.System {
		if !groupGiven {
			acct.Group, groupGiven = "nogroup", true
		}
		if !shellGiven {
			acct.Shell = "/sbin/nologin"
		}
	}
	if groupGiven {
		gr, ok := a.groupNamed(acct.Group)
		if !ok {
			return &UnknownError{"group", acct.Group}
		}
		acct.GID = gr.gid
	}

	// passwd_study: the name, then the first free uid (and, when the user
	// gets a group of its own, a gid of the same number).
	if _, ok := a.user(name); ok {
		return &InUseError{"user", name, true}
	}
	max := uint32(LastID)
	if !explicitUID {
		uid = LastSystemID + 1
		if acct.System {
			uid, max = FirstSystemID, LastSystemID
		}
	}
	for a.uidUsed(uid) || (!groupGiven && a.gidUsed(uid)) {
		if explicitUID {
			return &InUseError{"uid", strconv.FormatUint(uint64(uid), 10), false}
		}
		if uid == max {
			return ErrNoUIDs
		}
		uid++
	}
	acct.UID = uid
	if !groupGiven {
		acct.GID, acct.Group = uid, name
		if _, ok := a.groupNamed(name); ok {
			return &InUseError{"group", name, false}
		}
	}

	a.passwd.replaceAppend(name, fmt.Sprintf("x:%d:%d:%s:%s:%s", acct.UID, acct.GID, acct.Gecos, acct.Home, acct.Shell))
	// adduser.c: "!:%u:0:99999:7:::" with (unsigned)time(NULL)/(24*60*60).
	days := uint32(now.Unix()) / (24 * 60 * 60)
	a.shadow.replaceAppend(name, fmt.Sprintf("!:%d:0:99999:7:::", days))
	if groupGiven {
		// addgroup_wrapper: "addgroup -- USER GROUP"; both exist now.
		if err := a.addToGroup(name, acct.Group); err != nil {
			return err
		}
	} else {
		// addgroup_wrapper: "addgroup --gid GID -- USER"; passwd_study
		// already made sure the name and the gid are free.
		if err := a.newGroup(name, acct.GID, true, false); err != nil {
			return err
		}
	}
	a.created = append(a.created, acct)
	return nil
}

// rootShell is get_shell_name() with $SHELL unset: the shell of the first
// uid-0 record, else /bin/sh.
func (a *Accounts) rootShell() string {
	if pw, ok := a.findUser(func(pw pwRecord) bool { return pw.uid == 0 }); ok && pw.shell != "" {
		return pw.shell
	}
	return "/bin/sh"
}

// checkName is die_if_bad_username (CONFIG_FEATURE_CHECK_NAMES=y in
// Alpine): letters, digits and '_' anywhere, '-' and '.' after the first
// byte, '$' only last, and shorter than LOGIN_NAME_MAX.
func checkName(name string) error {
	for i := 0; i == 0 || i < len(name); i++ {
		var c byte
		if i < len(name) {
			c = name[i]
		}
		if i > 0 && (c == '-' || c == '.' || (c == '$' && i == len(name)-1)) {
			continue
		}
		if c == '_' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z') {
			continue
		}
		return fmt.Errorf("illegal character with code %d at position %d in %q", c, i, name)
	}
	if len(name) >= loginNameMax {
		return fmt.Errorf("name is too long: %d bytes", len(name))
	}
	return nil
}

// checkField refuses a value that would break the line it is written
// into: a control character (a newline adds a line: another account) or
// one of seps (':' adds a field, ',' a group member). busybox writes such
// values as they are; a script that relies on that is not one to trust.
func checkField(what, v, seps string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f || strings.IndexByte(seps, c) >= 0 {
			return fmt.Errorf("%s %q holds %q, which would break the lines of /etc/passwd and /etc/group", what, v, c)
		}
	}
	return nil
}

// parseID is xatou_range(s, 0, CONFIG_LAST_ID): decimal digits only, no
// sign or leading space.
func parseID(s string) (uint32, error) {
	if s == "" || s[0] == '-' || s[0] == '+' || strings.TrimLeft(s, " \t\n\v\f\r") != s {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 64) // strtoul's ERANGE is "invalid" too
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	if n > LastID {
		return 0, fmt.Errorf("number %s is not in 0..%d range", s, LastID)
	}
	return uint32(n), nil
}
