package bbaccounts

// Tests of the busybox addgroup/adduser emulation. Expected lines are derived
// from busybox 1.37's source (cited at each table) with Alpine's
// configuration (FIRST_SYSTEM_ID=100, LAST_SYSTEM_ID=999, LAST_ID=256000)
// and its /sbin/nologin patch, and from the real 3.20.3 minirootfs files.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/shscript"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// epoch is a SOURCE_DATE_EPOCH: 2024-09-06T01:00:00Z, day 19972.
var epoch = time.Unix(1725580800+3600, 0)

type realFiles struct{ passwd, group, shadow []byte }

func readReal(t *testing.T) realFiles {
	t.Helper()
	dir := filepath.Join(testenv.SharedTestdata(t), "minirootfs-3.20.3", "etc")
	var f realFiles
	for _, x := range []struct {
		name string
		dst  *[]byte
	}{{"passwd", &f.passwd}, {"group", &f.group}, {"shadow", &f.shadow}} {
		b, err := os.ReadFile(filepath.Join(dir, x.name))
		if err != nil {
			t.Fatal(err)
		}
		*x.dst = b
	}
	return f
}

func parse(t *testing.T, passwd, group, shadow string) *Accounts {
	t.Helper()
	a, err := Parse([]byte(passwd), []byte(group), []byte(shadow))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f realFiles) parse(t *testing.T) *Accounts {
	return parse(t, string(f.passwd), string(f.group), string(f.shadow))
}

func TestParseRoundTrip(t *testing.T) {
	f := readReal(t)
	a := f.parse(t)
	for _, c := range []struct {
		name      string
		got, want []byte
	}{{"passwd", a.Passwd(), f.passwd}, {"group", a.Group(), f.group}, {"shadow", a.Shadow(), f.shadow}} {
		if string(c.got) != string(c.want) {
			t.Errorf("%s after Parse = %q, want the file unchanged %q", c.name, c.got, c.want)
		}
	}
	if p, g, s := a.Changed(); p || g || s {
		t.Errorf("Changed() = %v %v %v on untouched files, want false false false", p, g, s)
	}
	// A missing file is an empty one.
	empty := parse(t, "", "", "")
	if got := empty.Passwd(); len(got) != 0 {
		t.Errorf("Passwd() of a missing file = %q, want empty", got)
	}
}

func TestLookup(t *testing.T) {
	a := readReal(t).parse(t)
	users := []struct {
		name string
		uid  uint32
		ok   bool
	}{{"root", 0, true}, {"guest", 405, true}, {"ntp", 123, true}, {"nobody", 65534, true}, {"klogd", 0, false}, {"", 0, false}, {"roo", 0, false}}
	for _, c := range users {
		if uid, ok := a.LookupUser(c.name); uid != c.uid || ok != c.ok {
			t.Errorf("LookupUser(%q) = %d, %v, want %d, %v", c.name, uid, ok, c.uid, c.ok)
		}
	}
	groups := []struct {
		name string
		gid  uint32
		ok   bool
	}{{"root", 0, true}, {"shadow", 42, true}, {"nogroup", 65533, true}, {"ping", 999, true}, {"klogd", 0, false}}
	for _, c := range groups {
		if gid, ok := a.LookupGroup(c.name); gid != c.gid || ok != c.ok {
			t.Errorf("LookupGroup(%q) = %d, %v, want %d, %v", c.name, gid, ok, c.gid, c.ok)
		}
	}
}

// TestRecordParsing checks lines as musl's getpwent_a and getgrent_a read
// them: seven (four) fields, numbers as leading digits that must end at ':'.
func TestRecordParsing(t *testing.T) {
	pw := []struct {
		line string
		want pwRecord
		ok   bool
	}{
		{"root:x:0:0:root:/root:/bin/sh", pwRecord{"root", 0, 0, "/root", "/bin/sh"}, true},
		{"a:x:1:2:g:/h:/s:extra", pwRecord{"a", 1, 2, "/h", "/s:extra"}, true},
		{"a:x::7:::", pwRecord{"a", 0, 7, "", ""}, true},
		{"a:x:1:2:g:/h", pwRecord{}, false},
		{"a:x:12ab:2:g:/h:/s", pwRecord{}, false},
		{"a", pwRecord{}, false},
		{"", pwRecord{}, false},
		{"# comment", pwRecord{}, false},
		// The search for the name's ':' starts at the second byte.
		{":x:pw:5:6:g:/h:/s", pwRecord{":x", 5, 6, "/h", "/s"}, true},
	}
	for _, c := range pw {
		got, ok := parsePasswd(c.line)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parsePasswd(%q) = %+v, %v, want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
	gr := []struct {
		line    string
		name    string
		gid     uint32
		members string
		ok      bool
	}{
		{"wheel:x:10:root", "wheel", 10, "root", true},
		{"bin:x:1:root,bin,daemon", "bin", 1, "root|bin|daemon", true},
		{"tty:x:5:", "tty", 5, "", true},
		{"tty:x:5", "", 0, "", false},
		{"tty::5:", "tty", 5, "", true},
		{"tty:x:5x:", "", 0, "", false},
	}
	for _, c := range gr {
		got, ok := parseGroup(c.line)
		if ok != c.ok || (ok && (got.name != c.name || got.gid != c.gid || strings.Join(got.members, "|") != c.members)) {
			t.Errorf("parseGroup(%q) = %+v, %v, want %s %d [%s], %v", c.line, got, ok, c.name, c.gid, c.members, c.ok)
		}
	}
}

// TestBaseClosureScripts runs the account lines of the base closure's
// scripts (notes/alpine.md §4) on the real 3.20.3 files.
func TestBaseClosureScripts(t *testing.T) {
	f := readReal(t)

	// alpine-baselayout .pre-install: "addgroup -S -g 42 shadow": the
	// shipped group file already has it, so busybox says "group 'shadow'
	// in use" (xgroup_study) and the script ignores that.
	a := f.parse(t)
	err := a.AddGroup([]string{"-S", "-g", "42", "shadow"})
	if !errors.Is(err, ErrExists) || err.Error() != "addgroup: group 'shadow' in use" {
		t.Errorf("AddGroup(-S -g 42 shadow) = %v, want addgroup: group 'shadow' in use, matching ErrExists", err)
	}
	if _, g, _ := a.Changed(); g {
		t.Errorf("group changed by a failed addgroup")
	}

	// On a group file without it, new_group appends "shadow:x:42:"
	// ("x:%u:" after "NAME:").
	noShadow := strings.Replace(string(f.group), "shadow:x:42:\n", "", 1)
	a = parse(t, string(f.passwd), noShadow, string(f.shadow))
	if err := a.AddGroup([]string{"-S", "-g", "42", "shadow"}); err != nil {
		t.Fatal(err)
	}
	if got, want := string(a.Group()), noShadow+"shadow:x:42:\n"; got != want {
		t.Errorf("group after addgroup -S -g 42 shadow = %q, want %q", got, want)
	}

	// busybox .post-install: "addgroup -S klogd" takes the first free
	// system gid (100 is "users", so 101); "adduser -S -D -H -h /dev/null
	// -s /sbin/nologin -G klogd -g klogd klogd" the first free system uid
	// (100), writes "NAME:x:UID:GID:GECOS:HOME:SHELL", the shadow line
	// "!:%u:0:99999:7:::" with the day, then runs "addgroup -- klogd klogd",
	// which appends the member to "klogd:x:101:".
	a = f.parse(t)
	if err := a.AddGroup([]string{"-S", "klogd"}); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUser(strings.Fields("-S -D -H -h /dev/null -s /sbin/nologin -G klogd -g klogd klogd"), epoch); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, a,
		string(f.passwd)+"klogd:x:100:101:klogd:/dev/null:/sbin/nologin\n",
		string(f.group)+"klogd:x:101:klogd\n",
		string(f.shadow)+"klogd:!:19972:0:99999:7:::\n")
	// update_passwd leaves each file's previous version as FILE-: group
	// was rewritten twice (new group, then the member).
	pb, gb, sb := a.Backups()
	for _, c := range []struct{ name, got, want string }{
		{"passwd-", string(pb), string(f.passwd)},
		{"group-", string(gb), string(f.group) + "klogd:x:101:\n"},
		{"shadow-", string(sb), string(f.shadow)},
	} {
		if c.got != c.want {
			t.Errorf("backup %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	want := Account{Name: "klogd", UID: 100, GID: 101, Group: "klogd", Gecos: "klogd", Home: "/dev/null",
		Shell: "/sbin/nologin", System: true, Skel: "/etc/skel"}
	if got := a.Created(); len(got) != 1 || got[0] != want {
		t.Errorf("Created() = %+v, want [%+v]", got, want)
	}
	if got, want := fmt.Sprint(a.CreatedGroups()), "[{klogd 101}]"; got != want {
		t.Errorf("CreatedGroups() = %s, want %s", got, want)
	}
	// Running the script again, as post-upgrade does, fails harmlessly.
	if err := a.AddGroup([]string{"-S", "klogd"}); !errors.Is(err, ErrExists) {
		t.Errorf("second addgroup -S klogd = %v, want ErrExists", err)
	}
	if err := a.AddUser(strings.Fields("-S -D -H -G klogd klogd"), epoch); !errors.Is(err, ErrExists) {
		t.Errorf("second adduser klogd = %v, want ErrExists", err)
	}
}

func checkFiles(t *testing.T, a *Accounts, passwd, group, shadow string) {
	t.Helper()
	for _, c := range []struct{ name, got, want string }{
		{"passwd", string(a.Passwd()), passwd}, {"group", string(a.Group()), group}, {"shadow", string(a.Shadow()), shadow},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

const (
	basePasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
	baseGroup  = "root:x:0:root\nusers:x:100:\nnogroup:x:65533:\nnobody:x:65534:\n"
	baseShadow = "root:*::0:::::\nnobody:!::0:::::\n"
)

// TestAllocation runs commands in sequence on small files and checks ids
// as passwd_study and xgroup_study pick them: system ids from 100, others
// from 1000, the first free one; a user without -G needs its uid free as a
// gid too; -S without -G joins "nogroup".
func TestAllocation(t *testing.T) {
	a := parse(t, basePasswd, baseGroup, baseShadow)
	steps := []struct {
		cmd  string
		want string // error, "" for none
	}{
		{"adduser -S a", ""},   // uid 100, gid 65533 (nogroup)
		{"addgroup -S g1", ""}, // gid 101: 100 is "users"
		{"adduser -S b", ""},   // uid 101
		{"addgroup g2", ""},    // gid 1000
		{"adduser -D c", ""},   // uid 1000 is free but gid 1000 is not: 1001
		{"adduser -S -u 100 d", "adduser: uid '100' in use"},
		{"adduser -S -u 150 -G g1 -h /var/lib/e e", ""}, // explicit uid
		{"adduser --system --ingroup=g1 --home /srv/f --shell=/bin/false --no-create-home f", ""},
		{"adduser g -SDH -h/x", ""}, // options after the operand, clustered, attached
		{"addgroup -g 7 h", ""},     // explicit gid below the system range
		{"addgroup -S -g 7 h2", "addgroup: gid '7' in use"},
		{"addgroup -S g3", ""},        // 101 is g1: 102
		{"adduser -S -D i extra", ""}, // a second operand after options is ignored
		{"adduser -D -g Jay j", ""},   // gecos, uid 1002 and group j
		{"adduser -D users", "adduser: group 'users' in use"},
	}
	for _, s := range steps {
		args := strings.Fields(s.cmd)
		var err error
		if args[0] == "adduser" {
			err = a.AddUser(args[1:], epoch)
		} else {
			err = a.AddGroup(args[1:])
		}
		if got := fmt.Sprint(err); (s.want == "" && err != nil) || (s.want != "" && got != s.want) {
			t.Errorf("%s = %v, want %s", s.cmd, err, orNil(s.want))
		}
	}
	checkFiles(t, a,
		basePasswd+
			"a:x:100:65533:Linux User,,,:/home/a:/sbin/nologin\n"+
			"b:x:101:65533:Linux User,,,:/home/b:/sbin/nologin\n"+
			"c:x:1001:1001:Linux User,,,:/home/c:/bin/sh\n"+
			"e:x:150:101:Linux User,,,:/var/lib/e:/sbin/nologin\n"+
			"f:x:102:101:Linux User,,,:/srv/f:/bin/false\n"+
			"g:x:103:65533:Linux User,,,:/x:/sbin/nologin\n"+
			"i:x:104:65533:Linux User,,,:/home/i:/sbin/nologin\n"+
			"j:x:1002:1002:Jay:/home/j:/bin/sh\n",
		"root:x:0:root\nusers:x:100:\nnogroup:x:65533:a,b,g,i\nnobody:x:65534:\n"+
			"g1:x:101:e,f\ng2:x:1000:\nc:x:1001:\nh:x:7:\ng3:x:102:\nj:x:1002:\n",
		baseShadow+
			"a:!:19972:0:99999:7:::\nb:!:19972:0:99999:7:::\nc:!:19972:0:99999:7:::\n"+
			"e:!:19972:0:99999:7:::\nf:!:19972:0:99999:7:::\ng:!:19972:0:99999:7:::\n"+
			"i:!:19972:0:99999:7:::\nj:!:19972:0:99999:7:::\n")
	created := a.Created()
	var names []string
	for _, c := range created {
		names = append(names, fmt.Sprintf("%s:%d:%d:%v:%v", c.Name, c.UID, c.GID, c.MakeHome, c.AskPassword))
	}
	if got, want := strings.Join(names, " "), "a:100:65533:true:false b:101:65533:true:false c:1001:1001:true:false e:150:101:true:false f:102:101:false:false g:103:65533:false:false i:104:65533:true:false j:1002:1002:true:false"; got != want {
		t.Errorf("Created() = %s, want %s", got, want)
	}
}

func orNil(s string) string {
	if s == "" {
		return "<nil>"
	}
	return s
}

func TestAddUserDefaults(t *testing.T) {
	a := parse(t, basePasswd, baseGroup, baseShadow)
	// Without -D busybox would run passwd; without -S the shell is root's.
	if err := a.AddUser([]string{"-k", "/etc/skel.alt", "bob"}, epoch); err != nil {
		t.Fatal(err)
	}
	want := Account{Name: "bob", UID: 1000, GID: 1000, Group: "bob", Gecos: "Linux User,,,", Home: "/home/bob",
		Shell: "/bin/sh", MakeHome: true, Skel: "/etc/skel.alt", SkelGiven: true, AskPassword: true}
	if got := a.Created(); len(got) != 1 || got[0] != want {
		t.Errorf("Created() = %+v, want [%+v]", got, want)
	}
	// Root's shell comes from the first uid-0 record.
	a = parse(t, "toor:x:0:0::/root:/bin/ash\n", "", "")
	if err := a.AddUser([]string{"-D", "ann"}, epoch); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, a, "toor:x:0:0::/root:/bin/ash\nann:x:1000:1000:Linux User,,,:/home/ann:/bin/ash\n",
		"ann:x:1000:\n", "ann:!:19972:0:99999:7:::\n")
}

// TestShadowDay checks the last-change field: (unsigned)time(NULL)/86400.
func TestShadowDay(t *testing.T) {
	for _, c := range []struct {
		now  int64
		want string
	}{{0, "0"}, {86399, "0"}, {86400, "1"}, {1725580800, "19972"}, {1725580800 + 86399, "19972"}, {-1, "49710"}} {
		a := parse(t, basePasswd, baseGroup, baseShadow)
		if err := a.AddUser([]string{"-S", "x"}, time.Unix(c.now, 0)); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(a.Shadow()), "\n"), "\n")
		if got, want := lines[len(lines)-1], "x:!:"+c.want+":0:99999:7:::"; got != want {
			t.Errorf("shadow line at %d = %q, want %q", c.now, got, want)
		}
	}
}

func TestMembership(t *testing.T) {
	f := readReal(t)
	for _, c := range []struct {
		cmd, want string // want: the group line afterwards
	}{
		{"addgroup guest wheel", "wheel:x:10:root,guest"},
		{"addgroup guest tty", "tty:x:5:guest"},
		{"adduser guest audio", "audio:x:18:guest"}, // no option: "addgroup -- USER GROUP"
		{"addgroup -S guest kvm", "kvm:x:34:kvm,guest"},
		{"addgroup -- guest kvm", "kvm:x:34:kvm,guest"},
	} {
		a := f.parse(t)
		args := strings.Fields(c.cmd)
		var err error
		if args[0] == "adduser" {
			err = a.AddUser(args[1:], epoch)
		} else {
			err = a.AddGroup(args[1:])
		}
		if err != nil {
			t.Errorf("%s = %v, want nil", c.cmd, err)
			continue
		}
		name, _, _ := strings.Cut(c.want, ":")
		if got := groupLine(a, name); got != c.want {
			t.Errorf("after %s the %s line = %q, want %q", c.cmd, name, got, c.want)
		}
	}
	// Already a member: nothing to do, nothing rewritten.
	a := f.parse(t)
	if err := a.AddGroup([]string{"root", "wheel"}); err != nil {
		t.Fatal(err)
	}
	if _, g, _ := a.Changed(); g {
		t.Errorf("addgroup root wheel rewrote /etc/group, root is already a member")
	}
}

func groupLine(a *Accounts, name string) string {
	for _, l := range strings.Split(string(a.Group()), "\n") {
		if strings.HasPrefix(l, name+":") {
			return l
		}
	}
	return ""
}

// TestUpdatePasswdQuirks checks update_passwd's rewriting: lines that
// start "NAME:" are replaced at the end, every line gets its "\n" back; and
// musl's reading of a last line without "\n", whose last byte it drops.
func TestUpdatePasswdQuirks(t *testing.T) {
	// A stale shadow line for a user not in passwd moves to the end, new.
	a := parse(t, basePasswd, baseGroup, "x:$6$old:1:0:99999:7:::\n"+baseShadow)
	if err := a.AddUser([]string{"-S", "x"}, epoch); err != nil {
		t.Fatal(err)
	}
	if got, want := string(a.Shadow()), baseShadow+"x:!:19972:0:99999:7:::\n"; got != want {
		t.Errorf("shadow = %q, want %q", got, want)
	}
	// A file that did not exist has no backup.
	a = parse(t, "", "", "")
	if err := a.AddUser([]string{"-D", "x"}, epoch); err != nil {
		t.Fatal(err)
	}
	if p, g, s := a.Backups(); p != nil || g != nil || s != nil {
		t.Errorf("Backups() of files that did not exist = %q %q %q, want nil nil nil", p, g, s)
	}
	// No final newline: the change adds it, other files stay as they were.
	a = parse(t, "root:x:0:0:root:/root:/bin/sh", "root:x:0:", "root:*::0:::::")
	if err := a.AddGroup([]string{"-S", "g"}); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, a, "root:x:0:0:root:/root:/bin/sh", "root:x:0:\ng:x:100:\n", "root:*::0:::::")
	// musl reads that last "root:x:0:" as "root:x:0", not a record, so
	// busybox finds no group root, and update_passwd drops the line it
	// does not recognise when it appends the new one.
	a = parse(t, "", "wheel:x:10:", "")
	if _, ok := a.LookupGroup("wheel"); ok {
		t.Errorf("LookupGroup(wheel) found a last line without newline; musl does not")
	}
	if err := a.AddGroup([]string{"wheel"}); err != nil {
		t.Fatal(err)
	}
	if got, want := string(a.Group()), "wheel:x:1000:\n"; got != want {
		t.Errorf("group = %q, want %q", got, want)
	}
}

// TestAccountErrors checks busybox's refusals: each leaves the files as
// they were.
func TestAccountErrors(t *testing.T) {
	f := readReal(t)
	long := strings.Repeat("a", 256)
	for _, c := range []struct {
		cmd    []string
		want   string
		is     error
		unused bool // not ErrExists
	}{
		{[]string{"adduser", "-S", "-G", "missing", "x"}, `adduser: unknown group "missing"`, nil, true},
		{[]string{"adduser", "-S", "root"}, "adduser: user 'root' in use", ErrExists, false},
		{[]string{"addgroup", "wheel"}, "addgroup: group 'wheel' in use", ErrExists, false},
		{[]string{"addgroup", "-g", "42", "foo"}, "addgroup: gid '42' in use", nil, true},
		{[]string{"adduser", "-u", "0", "foo"}, "adduser: uid '0' in use", nil, true},
		{[]string{"adduser", "-S", "-H", "shadow"}, "", nil, true}, // -S uses nogroup: no clash with group shadow
		{[]string{"adduser", "-D", "shadow"}, "adduser: group 'shadow' in use", nil, true},
		{[]string{"addgroup", "-x", "foo"}, `addgroup: bad usage: unrecognized option: "-x"`, ErrUsage, true},
		{[]string{"addgroup"}, "addgroup: bad usage: want [-g GID] [-S] [USER] GROUP, have 0 operands", ErrUsage, true},
		{[]string{"addgroup", "a", "b", "c"}, "addgroup: bad usage: want [-g GID] [-S] [USER] GROUP, have 3 operands", ErrUsage, true},
		{[]string{"addgroup", "-g", "1", "root", "wheel"}, "addgroup: bad usage: -g with USER GROUP", ErrUsage, true},
		{[]string{"addgroup", "foo", "-g"}, "addgroup: bad usage: option requires an argument: -g", ErrUsage, true},
		{[]string{"addgroup", "--gid"}, "addgroup: bad usage: option '--gid' requires an argument", ErrUsage, true},
		{[]string{"addgroup", "--system=1", "x"}, "addgroup: bad usage: option '--system' doesn't allow an argument", ErrUsage, true},
		{[]string{"adduser", "--s", "x"}, `adduser: bad usage: option is ambiguous: "--s"`, ErrUsage, true},
		{[]string{"adduser", "--bogus", "x"}, `adduser: bad usage: unrecognized option: "--bogus"`, ErrUsage, true},
		{[]string{"adduser", "-S"}, "adduser: bad usage: want [OPTIONS] USER [GROUP], have 0 operands", ErrUsage, true},
		{[]string{"addgroup", "-g", "abc", "foo"}, `addgroup: invalid number "abc"`, nil, true},
		{[]string{"addgroup", "-g", "+1", "foo"}, `addgroup: invalid number "+1"`, nil, true},
		{[]string{"addgroup", "-g", " 1", "foo"}, `addgroup: invalid number " 1"`, nil, true},
		{[]string{"addgroup", "-g", "256001", "foo"}, "addgroup: number 256001 is not in 0..256000 range", nil, true},
		{[]string{"adduser", "-u", "99999999999999999999", "x"}, `adduser: invalid number "99999999999999999999"`, nil, true},
		{[]string{"addgroup", "--", "-bad"}, `addgroup: illegal character with code 45 at position 0 in "-bad"`, nil, true},
		{[]string{"adduser", "a b"}, `adduser: illegal character with code 32 at position 1 in "a b"`, nil, true},
		{[]string{"adduser", "a$b"}, `adduser: illegal character with code 36 at position 1 in "a$b"`, nil, true},
		{[]string{"adduser", ""}, `adduser: illegal character with code 0 at position 0 in ""`, nil, true},
		{[]string{"adduser", long}, "adduser: name is too long: 256 bytes", nil, true},
		{[]string{"adduser", "nosuch", "wheel"}, `adduser: unknown user "nosuch"`, nil, true},
		{[]string{"addgroup", "root", "nosuch"}, `addgroup: unknown group "nosuch"`, nil, true},
	} {
		a := f.parse(t)
		var err error
		if c.cmd[0] == "adduser" {
			err = a.AddUser(c.cmd[1:], epoch)
		} else {
			err = a.AddGroup(c.cmd[1:])
		}
		if c.want == "" {
			if err != nil {
				t.Errorf("%q = %v, want nil", c.cmd, err)
			}
			continue
		}
		if fmt.Sprint(err) != c.want {
			t.Errorf("%q = %v, want %s", c.cmd, err, c.want)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%q = %v, want it to match %v", c.cmd, err, c.is)
		}
		if c.unused && errors.Is(err, ErrExists) {
			t.Errorf("%q = %v matches ErrExists, want it not to", c.cmd, err)
		}
		if p, g, s := a.Changed(); p || g || s {
			t.Errorf("%q failed but changed passwd %v group %v shadow %v", c.cmd, p, g, s)
		}
	}
	// Names that die_if_bad_username lets through.
	for _, name := range []string{"a-b.c", "_x", "9lives", "smb$", strings.Repeat("a", 255)} {
		a := f.parse(t)
		if err := a.AddGroup([]string{name}); err != nil {
			t.Errorf("addgroup %q = %v, want nil", name, err)
		}
	}
}

// TestIDExhaustion fills the system range: the loop stops at
// LAST_SYSTEM_ID with "no uids left" / "no gids left", and takes the last
// id when it is the only one free.
func TestIDExhaustion(t *testing.T) {
	var passwd, group strings.Builder
	for id := FirstSystemID; id < LastSystemID; id++ {
		fmt.Fprintf(&passwd, "u%d:x:%d:%d::/:/sbin/nologin\n", id, id, id)
		fmt.Fprintf(&group, "g%d:x:%d:\n", id, id)
	}
	group.WriteString("nogroup:x:65533:\n")
	a := parse(t, passwd.String(), group.String(), "")
	if err := a.AddGroup([]string{"-S", "last"}); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUser([]string{"-S", "last"}, epoch); err != nil {
		t.Fatal(err)
	}
	if uid, _ := a.LookupUser("last"); uid != LastSystemID {
		t.Errorf("LookupUser(last) = %d, want %d", uid, LastSystemID)
	}
	if gid, _ := a.LookupGroup("last"); gid != LastSystemID {
		t.Errorf("LookupGroup(last) = %d, want %d", gid, LastSystemID)
	}
	if err := a.AddGroup([]string{"-S", "more"}); !errors.Is(err, ErrNoGIDs) || err.Error() != "addgroup: no gids left" {
		t.Errorf("addgroup -S more = %v, want addgroup: no gids left", err)
	}
	if err := a.AddUser([]string{"-S", "more"}, epoch); !errors.Is(err, ErrNoUIDs) || err.Error() != "adduser: no uids left" {
		t.Errorf("adduser -S more = %v, want adduser: no uids left", err)
	}
	// Normal accounts still have room.
	if err := a.AddUser([]string{"-D", "more"}, epoch); err != nil {
		t.Errorf("adduser -D more = %v, want nil", err)
	}
}

func TestParseNUL(t *testing.T) {
	_, err := Parse([]byte("root:x:0:0::/:/bin/sh\n"), []byte("a:x:1:\nb\x00:x:2:\n"), nil)
	if got, want := fmt.Sprint(err), "parsing /etc/group: line 2: NUL byte"; got != want {
		t.Errorf("Parse with a NUL = %v, want %s", err, want)
	}
}

// Example runs the account lines of busybox's post-install, the way a
// build reproduces a script: split it, apply the commands it knows, tolerate
// "already exists" where the script sends stderr to /dev/null, and list the
// rest.
func Example() {
	a, _ := Parse([]byte(basePasswd), []byte(baseGroup), []byte(baseShadow))
	cmds, _ := shscript.Split([]byte(alpinetest.BusyboxPostInstall))
	for _, c := range cmds {
		var err error
		switch {
		case c.Unsupported == "" && len(c.Args) > 0 && c.Args[0] == "addgroup":
			err = a.AddGroup(c.Args[1:])
		case c.Unsupported == "" && len(c.Args) > 0 && c.Args[0] == "adduser":
			err = a.AddUser(c.Args[1:], time.Unix(1725580800, 0))
		default:
			fmt.Printf("line %d not reproduced: %s\n", c.Line, c.Text)
			continue
		}
		if err != nil && !errors.Is(err, ErrExists) {
			fmt.Println(err)
		}
	}
	fmt.Print(string(a.Passwd()[len(basePasswd):]), string(a.Group()[len(baseGroup):]))
	// Output:
	// line 4 not reproduced: /bin/busybox mkdir -p "/bin" "/sbin" "/usr/bin" "/usr/sbin"
	// line 5 not reproduced: /bin/busybox --install -s
	// line 5 not reproduced: exit 1
	// line 11 not reproduced: exit 0
	// klogd:x:100:101:klogd:/dev/null:/sbin/nologin
	// klogd:x:101:klogd
}
