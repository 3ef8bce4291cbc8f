package provision

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// TestOverlayKinds: an overlay follows apk's rules for a package's
// entries: a non-directory where the image has a directory, or a
// directory where it has a non-directory, is an error naming the path;
// a directory where the image has a symlink to a directory goes through
// the link, which stays; a file replaces a file.
func TestOverlayKinds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		overlay fstest.MapFS
		want    string // in the error; "" for success
	}{
		{"file over a directory", fstest.MapFS{"etc": {Data: []byte("flat\n"), Mode: 0o644}},
			`"etc" is a regular file where the image has a directory /etc`},
		{"symlink over a directory", fstest.MapFS{"etc": {Data: []byte("/tmp"), Mode: fs.ModeSymlink | 0o777}},
			`"etc" is a symbolic link where the image has a directory /etc`},
		{"directory over a file", fstest.MapFS{"etc/motd/x": {Data: []byte("x"), Mode: 0o644}},
			`"etc/motd" is a directory where the image has a regular file /etc/motd`},
		{"directory over a symlink to a directory", fstest.MapFS{
			"var/run":     {Mode: fs.ModeDir | 0o700},
			"var/run/pid": {Data: []byte("1\n"), Mode: 0o644},
		}, ""},
		{"file over a file", fstest.MapFS{"etc/motd": {Data: []byte("mine\n"), Mode: 0o644}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, basePackages(t), "alpine-baselayout")
			o := f.options()
			o.Overlays = []fs.FS{tc.overlay}
			res, err := Provision(context.Background(), o)
			if tc.want != "" {
				if err == nil {
					res.Close()
					t.Fatalf("Provision succeeded, want an error saying %s", tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "overlay 1") {
					t.Errorf("error %q does not say overlay 1 and %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if n := node(t, res.Tree, "etc"); !n.IsDir() {
				t.Errorf("/etc is %v, want a directory", n.Mode)
			}
			if n := node(t, res.Tree, "var/run"); n.Mode&fs.ModeSymlink == 0 || n.Linkname != "../run" {
				t.Errorf("/var/run is %v -> %q, want the package's symlink to ../run", n.Mode, n.Linkname)
			}
			if _, ok := tc.overlay["var/run/pid"]; ok {
				if got := content(t, res.Tree, "run/pid"); got != "1\n" {
					t.Errorf("/run/pid = %q, want the overlay's var/run/pid", got)
				}
			}
			if _, ok := tc.overlay["etc/motd"]; ok {
				if got := content(t, res.Tree, "etc/motd"); got != "mine\n" {
					t.Errorf("/etc/motd = %q, want the overlay's", got)
				}
			}
		})
	}
}
