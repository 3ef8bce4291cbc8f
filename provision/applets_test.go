package provision

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// withAppletList is the base packages with busybox's
// /etc/busybox-paths.d/busybox replaced by list.
func withAppletList(t *testing.T, list string) []apktest.Pkg {
	t.Helper()
	pkgs := basePackages(t)
	for i := range pkgs {
		for j := range pkgs[i].Files {
			if pkgs[i].Files[j].Name == "etc/busybox-paths.d/busybox" {
				pkgs[i].Files[j].Data = []byte(list)
				return pkgs
			}
		}
	}
	t.Fatal("no busybox-paths.d list in the base packages")
	return nil
}

// TestAppletListJunk: a line of /etc/busybox-paths.d/busybox that is not a
// path `busybox --install -s` could make (bin, sbin, usr/bin or usr/sbin
// and an applet name, nothing else) fails the build naming the package
// and the line, instead of becoming an entry of the root.
func TestAppletListJunk(t *testing.T) {
	real := readShared(t, "packages/busybox-paths.d-busybox-1.37.0-r30.txt")
	for _, junk := range []string{
		"ebwy = _hgatietwb) hlc)",
		"bin/two words",
		"bin/tab\there",
		"bin/esc\x1b[31m",
		"\xff\xfe",
		"etc/passwd",
		"bin",
		"bin/../etc/x",
		"usr/bin/./x",
		"/bin//x",
	} {
		t.Run(junk, func(t *testing.T) {
			list := "bin/ash\n" + junk + "\n" + real
			f := newFixture(t, withAppletList(t, list), baseWorld...)
			res, err := Provision(context.Background(), f.options())
			if err == nil {
				res.Close()
				t.Fatalf("Provision with the line %q in busybox's applet list succeeded", junk)
			}
			for _, w := range []string{"busybox-1.37.0-r30", "line 2", strconv.Quote(junk)} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
	// The negative control: absolute and relative applet paths are links.
	f := newFixture(t, withAppletList(t, "/usr/bin/[[\nsbin/extra-applet\n"+real), baseWorld...)
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	for _, p := range []string{"usr/bin/[[", "sbin/extra-applet", "bin/ls"} {
		if n := node(t, res.Tree, p); n.Linkname != "/bin/busybox" {
			t.Errorf("/%s -> %q, want /bin/busybox", p, n.Linkname)
		}
	}
}
