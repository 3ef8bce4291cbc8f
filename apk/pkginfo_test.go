package apk

import (
	"fmt"
	"strings"
	"testing"
)

// TestParsePkgInfo checks that .PKGINFO keys land in the same Package
// fields as the index fields abuild writes them to, and that what an
// index would only mark Uninstallable is an error in a package.
func TestParsePkgInfo(t *testing.T) {
	const head = "pkgname = demo\npkgver = 1.0-r0\n"
	datahash := strings.Repeat("ab", 32)
	tests := []struct {
		in, want string // want: the fields printed by show, or "error: ..." (a substring)
	}{
		{head, "demo 1.0-r0 |||||| [] [] [] [] k=0,false q=0 t=0 I=0 trig=[] dh=0"},
		{"# comment\n" + head + "\narch = noarch\npkgdesc = a  demo \nurl = u\nlicense = MIT\norigin = o\nmaintainer = m\ncommit = c\n" +
			"builddate = 1767616564\nsize = 4096\nprovider_priority = 100\nreplaces_priority = 5\n" +
			"depend = so:libc.musl-x86_64.so.1 !old\ndepend = b>=2\nprovides = cmd:demo=1.0-r0 /bin/demo\n" +
			"install_if = demo-base openrc\nreplaces = old\ntriggers = /usr/bin /usr/lib/demo/*\ndatahash = " + datahash + "\nunknown = kept out\n",
			"demo 1.0-r0 noarch|a  demo |u|MIT|o|m|c [so:libc.musl-x86_64.so.1 !old b>=2] [cmd:demo=1.0-r0 /bin/demo] [demo-base openrc] [old] " +
				"k=100,true q=5 t=1767616564 I=4096 trig=[/usr/bin /usr/lib/demo/*] dh=32"},
		{"pkgname = demo\n", "error: .PKGINFO has no pkgver"},
		{"pkgver = 1\n", "error: .PKGINFO has no pkgname"},
		{"pkgname = bad name\npkgver = 1\n", `error: .PKGINFO line 1: pkgname: invalid package name "bad name"`},
		{"pkgname = demo\npkgver = 1..2\n", `error: .PKGINFO line 2: pkgver: invalid version "1..2"`},
		{head + "size = -1\n", "error: .PKGINFO line 3: size: "},
		{head + "builddate = x\n", "error: .PKGINFO line 3: builddate: "},
		{head + "provider_priority = x\n", "error: .PKGINFO line 3: provider_priority: "},
		{head + "depend = b>=\n", "error: .PKGINFO line 3: depend: "},
		{head + "provides = !b\n", "error: .PKGINFO line 3: provides: "},
		{head + "install_if = a>=\n", `error: .PKGINFO line 3: install_if: parsing dependency "a>=": invalid version ""`},
		{head + "replaces = r@tag\n", "error: .PKGINFO line 3: replaces: "},
		{head + "datahash = abcd\n", "error: .PKGINFO line 3: datahash: 2 bytes, want a 32-byte SHA-256"},
		{head + "datahash = xyz\n", "error: .PKGINFO line 3: datahash: "},
		{head + "novalue\n", `error: .PKGINFO line 3: "novalue" is not "key = value"`},
	}
	for _, tt := range tests {
		var info PackageInfo
		got := ""
		if err := parsePkgInfo([]byte(tt.in), &info); err != nil {
			got = "error: " + err.Error()
		} else {
			got = showPkgInfo(&info)
		}
		if !strings.HasPrefix(tt.want, "error: ") && got != tt.want || strings.HasPrefix(tt.want, "error: ") && !strings.HasPrefix(got, tt.want) {
			t.Errorf("parsePkgInfo(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// A bad line is quoted only in part: a .PKGINFO may have 16 MiB.
	long := head + strings.Repeat("x", 1000) + "\n"
	if err := parsePkgInfo([]byte(long), &PackageInfo{}); err == nil || len(err.Error()) > 100 {
		t.Errorf("parsePkgInfo(a 1000-byte line without \" = \") = %.120v, want an error quoting the line in part", err)
	}
}

func showPkgInfo(i *PackageInfo) string {
	atoms := func(ds []Dependency) string {
		s := make([]string, len(ds))
		for j, d := range ds {
			s[j] = d.String()
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	return fmt.Sprintf("%s %s %s|%s|%s|%s|%s|%s|%s %s %s %s %s k=%d,%t q=%d t=%d I=%d trig=%v dh=%d",
		i.Name, i.Version, i.Arch, i.Description, i.URL, i.License, i.Origin, i.Maintainer, i.Commit,
		atoms(i.Depends), atoms(i.Provides), atoms(i.InstallIf), atoms(i.Replaces),
		i.ProviderPriority, i.HasProviderPriority, i.ReplacesPriority, i.BuildTime, i.InstalledSize, i.Triggers, len(i.DataHash))
}
