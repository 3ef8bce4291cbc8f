package bbaccounts

import (
	"bytes"
	"strings"
	"testing"
)

// TestAccountFieldsRefused: a field that would add a line or a field to
// /etc/passwd or /etc/group (a control character, ':', or ',' in a member
// name) is refused like a bad name, and nothing is changed.
func TestAccountFieldsRefused(t *testing.T) {
	f := readReal(t)
	passwd := string(f.passwd) + "we,ird:x:4242:4242::/:/sbin/nologin\n" // a name from a package's own file
	for _, c := range []struct {
		cmd  []string
		want string // in the error
	}{
		{[]string{"adduser", "-D", "-g", "x\nevil::0:0::/:/bin/sh", "bob"}, `gecos "x\nevil::0:0::/:/bin/sh"`},
		{[]string{"adduser", "-D", "-g", "a:b", "bob"}, `gecos "a:b"`},
		{[]string{"adduser", "-D", "-g", "bell\a", "bob"}, `gecos "bell\a"`},
		{[]string{"adduser", "-D", "-g", "del\x7f", "bob"}, `gecos "del\x7f"`},
		{[]string{"adduser", "-D", "-h", "/home/a:b", "bob"}, `home "/home/a:b"`},
		{[]string{"adduser", "-D", "-h", "/home/b\x1b[31m", "bob"}, `home "/home/b\x1b[31m"`},
		{[]string{"adduser", "-D", "-s", "/bin/sh\n", "bob"}, `shell "/bin/sh\n"`},
		{[]string{"adduser", "-D", "-s", "/bin/sh:x", "bob"}, `shell "/bin/sh:x"`},
		{[]string{"addgroup", "we,ird", "wheel"}, `member "we,ird"`},
		{[]string{"adduser", "we,ird", "wheel"}, `member "we,ird"`},
	} {
		a := parse(t, passwd, string(f.group), string(f.shadow))
		var err error
		if c.cmd[0] == "adduser" {
			err = a.AddUser(c.cmd[1:], epoch)
		} else {
			err = a.AddGroup(c.cmd[1:])
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q = %v, want an error naming %s", c.cmd, err, c.want)
		}
		if p, g, s := a.Changed(); p || g || s {
			t.Errorf("%q changed passwd %v group %v shadow %v, want nothing changed", c.cmd, p, g, s)
		}
	}
	// The negative control: the same commands with fields busybox writes
	// as they are.
	a := f.parse(t)
	if err := a.AddUser([]string{"-D", "-g", "Bob Smith,,,", "-h", "/home/bob", "-s", "/bin/ash", "bob"}, epoch); err != nil {
		t.Fatalf("adduser with plain fields = %v, want nil", err)
	}
	if got := bytes.Count(a.Passwd(), []byte("\n")); got != bytes.Count(f.passwd, []byte("\n"))+1 {
		t.Errorf("adduser bob made /etc/passwd %d lines, want one more than %d", got, bytes.Count(f.passwd, []byte("\n")))
	}
}
