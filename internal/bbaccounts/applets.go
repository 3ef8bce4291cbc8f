package bbaccounts

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
