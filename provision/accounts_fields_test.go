package provision

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
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

// TestProvisionAccountFieldInjection: a package script whose adduser
// GECOS holds a newline and a passwd line fails the build, naming the
// package, the script and the field; a ':' in the home directory too.
func TestProvisionAccountFieldInjection(t *testing.T) {
	for _, tc := range []struct{ name, script, field string }{
		{"newline in gecos", "#!/bin/sh\nadduser -D -H -g \"x\nevil::0:0::/:/bin/sh\" bob\n", "gecos"},
		{"colon in home", "#!/bin/sh\nadduser -D -H -h /home/a:0:0 bob\n", "home"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs := append(basePackages(t), apktest.Pkg{Name: "evil", Version: "1-r0", Scripts: map[string]string{"pre-install": tc.script}})
			f := newFixture(t, pkgs, "alpine-baselayout", "evil")
			res, err := Provision(context.Background(), f.options())
			if err == nil {
				passwd := content(t, res.Tree, "etc/passwd")
				res.Close()
				t.Fatalf("Provision succeeded; /etc/passwd:\n%s", passwd)
			}
			t.Log(err)
			for _, w := range []string{"evil-1-r0", ".pre-install", tc.field} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}
