package provision

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

func readInstalled(t *testing.T, fsys fs.FS) []*apk.InstalledPackage {
	t.Helper()
	b, err := fs.ReadFile(fsys, "lib/apk/db/installed")
	if err != nil {
		t.Fatal(err)
	}
	db, err := apk.ReadInstalled(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestInstalledDatabase: the database parses back to the installed
// packages, and every path it lists is in the tree with its checksum.
func TestInstalledDatabase(t *testing.T) {
	f, res := provisionBase(t)
	fsys := res.Tree.FS()
	db := readInstalled(t, fsys)
	var got, want []string
	for _, ip := range db {
		got = append(got, ip.String()+" "+apk.FormatChecksum(ip.Checksum))
	}
	for _, p := range f.pkgs {
		want = append(want, p.String()+" "+apk.FormatChecksum(p.Checksum))
	}
	slices.Sort(want) // apk writes the database sorted by name
	if !slices.Equal(got, want) {
		t.Errorf("installed db holds\n%q\nwant\n%q", got, want)
	}
	files := 0
	for _, ip := range db {
		for _, d := range ip.Dirs {
			if d.Name != "" {
				dir, err := res.Tree.Resolve(d.Name, true)
				if fi, err2 := fs.Stat(fsys, dir); err != nil || err2 != nil || !fi.IsDir() {
					t.Errorf("%s: F:%s is not a directory in the tree (%v, %v)", ip, d.Name, err, err2)
				}
			}
			for _, file := range d.Files {
				// Through the symlinks a path's directories pass, as
				// apk audit would see it.
				p, err := res.Tree.Resolve(path.Join(d.Name, file.Name), false)
				if err != nil {
					t.Fatal(err)
				}
				n := node(t, res.Tree, p)
				var sum [20]byte
				switch {
				case n.Mode&fs.ModeSymlink != 0:
					sum = sha1.Sum([]byte(n.Linkname))
				case n.Mode.IsRegular():
					b, err := fs.ReadFile(fsys, p)
					if err != nil {
						t.Fatal(err)
					}
					sum = sha1.Sum(b)
				default:
					continue
				}
				if accountFile(p) {
					// Scripts add users after the package put these
					// files; apk keeps the package's checksum (and so
					// sees a changed config file), and so do we.
					continue
				}
				if !bytes.Equal(sum[:], file.Checksum) {
					t.Errorf("%s: /%s has SHA-1 %x, the db's Z: says %x", ip, p, sum, file.Checksum)
				}
				files++
			}
		}
	}
	if files < 10 {
		t.Errorf("the db lists %d files, want the packages' files", files)
	}
	for _, p := range []string{"lib/apk/db/scripts.tar.gz", "lib/apk/db/triggers", "etc/apk/world", "etc/apk/arch", "etc/apk/repositories"} {
		node(t, res.Tree, p)
	}
	if n := node(t, res.Tree, "lib/apk/db/lock"); n.Mode != 0o600 {
		t.Errorf("/lib/apk/db/lock mode %v, want 0600", n.Mode)
	}
	if got := content(t, res.Tree, "etc/apk/world"); got != strings.Join(slices.Sorted(slices.Values(baseWorld)), "\n")+"\n" {
		t.Errorf("/etc/apk/world = %q", got)
	}
	trig := content(t, res.Tree, "lib/apk/db/triggers")
	if !strings.Contains(trig, " /bin /usr/bin /sbin /usr/sbin /lib/modules/* /usr/lib/modules/*") {
		t.Errorf("/lib/apk/db/triggers = %q, want busybox's globs", trig)
	}
}

func accountFile(p string) bool { return slices.Contains(accountFiles, p) }

// fieldShape is the sequence of field letters of a db text, one string per
// package record, with the runs of F/M/R/a/Z lines kept as they are.
func fieldShape(db []byte) map[string]string {
	out := map[string]string{}
	var name, shape string
	sc := bufio.NewScanner(bytes.NewReader(db))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			if name != "" {
				out[name] = shape
			}
			name, shape = "", ""
			continue
		}
		if strings.HasPrefix(l, "P:") {
			name = l[2:]
		}
		shape += l[:1]
	}
	if name != "" {
		out[name] = shape
	}
	return out
}

// TestInstalledMatchesReal3203: packages made with the metadata and file
// lists of the real 3.20.3 minirootfs database give a database whose
// lines, field by field, come in the same order as the real one's for
// every package both hold.
func TestInstalledMatchesReal3203(t *testing.T) {
	real, err := os.ReadFile(filepath.Join(readSharedDir(t), "minirootfs-3.20.3/lib/apk/db/installed"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := apk.ReadInstalled(bytes.NewReader(real))
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []apktest.Pkg
	var world []string
	for _, ip := range recs {
		p := apktest.Pkg{
			Name: ip.Name, Version: ip.Version, Arch: ip.Arch, Origin: ip.Origin, Description: ip.Description,
			URL: ip.URL, License: ip.License, Maintainer: ip.Maintainer, Commit: ip.Commit, BuildTime: ip.BuildTime,
		}
		if ip.HasProviderPriority {
			p.ProviderPriority = ptr(ip.ProviderPriority)
		}
		for _, l := range []struct {
			from []apk.Dependency
			to   *[]string
		}{{ip.Depends, &p.Depends}, {ip.Provides, &p.Provides}, {ip.InstallIf, &p.InstallIf}, {ip.Replaces, &p.Replaces}} {
			for _, d := range l.from {
				*l.to = append(*l.to, d.String())
			}
		}
		p.ReplacesPriority = ip.ReplacesPriority
		for _, d := range ip.Dirs {
			if d.Name != "" {
				mode := fs.ModeDir | 0o755
				if d.ACL != nil {
					mode = fs.ModeDir | fileMode(int64(d.ACL.Mode))
				}
				p.Files = append(p.Files, apktest.File{Name: d.Name, Mode: mode})
			}
			for _, f := range d.Files {
				file := apktest.File{Name: path.Join(d.Name, f.Name), Data: []byte(f.Name)}
				if d.Name == busyboxPathsDir {
					file.Data = []byte("bin/" + f.Name + "\n") // an applet list; the binary is there, so no link
				}
				if f.ACL != nil {
					file.Mode = fileMode(int64(f.ACL.Mode))
					if f.ACL.Mode == 0o777 {
						file = apktest.File{Name: file.Name, Linkname: f.Name + ".target"}
					}
				}
				p.Files = append(p.Files, file)
			}
		}
		pkgs = append(pkgs, p)
		world = append(world, ip.Name)
	}
	fx := newFixture(t, pkgs, world...)
	res, err := Provision(context.Background(), fx.options())
	if err != nil {
		t.Fatal(err)
	}
	ours, err := fs.ReadFile(res.Tree.FS(), "lib/apk/db/installed")
	if err != nil {
		t.Fatal(err)
	}
	want, got := fieldShape(real), fieldShape(ours)
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("package %s is missing from our database", name)
		} else if g != w {
			t.Errorf("package %s: field letters\n%s\nwant\n%s", name, g, w)
		}
	}
}

// TestHardLinkOwnerInDatabase: a hard link's database record carries the
// owner its header names, resolved like any other.
func TestHardLinkOwnerInDatabase(t *testing.T) {
	pkgs := []apktest.Pkg{
		{Name: "acc", Version: "1-r0",
			Files: []apktest.File{{Name: "etc/", Mode: fs.ModeDir | 0o755},
				{Name: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\nsvc:x:100:101::/:/sbin/nologin\n")},
				{Name: "etc/group", Data: []byte("root:x:0:root\nsvc:x:101:\n")}}},
		{Name: "svc", Version: "1-r0", Depends: []string{"acc"},
			Files: []apktest.File{{Name: "srv/", Mode: fs.ModeDir | 0o755},
				{Name: "srv/a", Mode: 0o640, Uname: "svc", Gname: "svc", Data: []byte("hello")},
				{Name: "srv/b", Hardlink: "srv/a", Uname: "svc", Gname: "svc"}}},
	}
	f := newFixture(t, pkgs, "svc")
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range readInstalled(t, res.Tree.FS()) {
		for _, d := range ip.Dirs {
			for _, file := range d.Files {
				if p := path.Join(d.Name, file.Name); strings.HasPrefix(p, "srv/") {
					if file.ACL == nil || file.ACL.UID != 100 || file.ACL.GID != 101 {
						t.Errorf("db record of /%s: acl %+v, want owner 100:101", p, file.ACL)
					}
				}
			}
		}
	}
}
