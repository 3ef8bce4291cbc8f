package apk_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// headerACL is the ACL apk records for a data entry whose owner names map
// to the header's numeric ids.
func headerACL(hdr *tar.Header) apk.ACL {
	xattrs := map[string]string{}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			xattrs[name] = v
		}
	}
	return apk.ACL{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), Mode: uint32(hdr.Mode) & 0o7777, XattrChecksum: apk.XattrChecksum(xattrs)}
}

// recordPackage reads a package's data into a DirRecorder, as provisioning
// does.
func recordPackage(t *testing.T, data []byte, want *apk.Package) []apk.InstalledDir {
	t.Helper()
	r, err := apk.NewPackageReader(bytes.NewReader(data), want)
	if err != nil {
		t.Fatal(err)
	}
	var rec apk.DirRecorder
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			return rec.Dirs
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeDir {
			rec.AddDir(hdr.Name, headerACL(hdr))
			continue
		}
		sum, err := r.Checksum()
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.AddFile(hdr.Name, headerACL(hdr), sum); err != nil {
			t.Fatal(err)
		}
	}
}

// pathLines returns the F: and later lines of an installed-database record.
func pathLines(record string) []string {
	lines := strings.Split(strings.TrimRight(record, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "F:") {
			return lines[i:]
		}
	}
	return nil
}

// TestDirRecorderReal records real v3.23 packages and compares their path
// lines with what apk-tools wrote for earlier versions of the same
// packages in the 3.20.3 minirootfs, whose trees are the same; only the
// CA bundle's content (its Z:) changed between the versions.
func TestDirRecorderReal(t *testing.T) {
	realDB, err := apk.ReadInstalled(bytes.NewReader(realInstalled(t, "installed")))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, name string
		differ     map[int]bool // indexes of path lines allowed to differ
	}{
		{"busybox-binsh-1.37.0-r30.apk", "busybox-binsh", nil},
		{"ca-certificates-bundle-20251003-r0.apk", "ca-certificates-bundle", map[int]bool{7: true}},
	} {
		var old *apk.InstalledPackage
		for _, ip := range realDB {
			if ip.Name == tc.name {
				old = ip
			}
		}
		var want bytes.Buffer
		if err := apk.WriteInstalled(&want, []*apk.InstalledPackage{old}); err != nil {
			t.Fatal(err)
		}
		dirs := recordPackage(t, readShared(t, "packages", tc.file), realRecord(t, tc.file))
		var got bytes.Buffer
		if err := apk.WriteInstalled(&got, []*apk.InstalledPackage{{Package: old.Package, Dirs: dirs}}); err != nil {
			t.Fatal(err)
		}
		g, w := pathLines(got.String()), pathLines(want.String())
		if len(g) != len(w) {
			t.Errorf("%s: path lines =\n%s\nwant\n%s", tc.file, strings.Join(g, "\n"), strings.Join(w, "\n"))
			continue
		}
		for i := range w {
			if (g[i] != w[i]) != tc.differ[i] {
				t.Errorf("%s: path line %d = %q, want %q (allowed to differ: %v)", tc.file, i, g[i], w[i], tc.differ[i])
			}
		}
	}
}

// TestDirRecorder follows apk_db_install_file and apk_db_diri_get: the
// root directory appears where the first top-level file came, files need
// their directory, a path added twice is updated in place, defaults are
// nil ACLs.
func TestDirRecorder(t *testing.T) {
	var r apk.DirRecorder
	sum := bytes.Repeat([]byte{1}, 20)
	steps := []struct {
		dir  bool
		path string
		acl  apk.ACL
	}{
		{true, "etc/", apk.ACL{Mode: 0o755}},
		{false, "etc/motd", apk.ACL{Mode: 0o644}},
		{false, "linuxrc", apk.ACL{Mode: 0o777}},
		{true, "bin", apk.ACL{Mode: 0o755}},
		{false, "bin/sh", apk.ACL{Mode: 0o777}},
		{false, "etc/hosts", apk.ACL{Mode: 0o644}},
		{false, "etc/motd", apk.ACL{Mode: 0o600}},
		{true, "etc", apk.ACL{GID: 42, Mode: 0o750}},
	}
	for _, s := range steps {
		if s.dir {
			r.AddDir(s.path, s.acl)
		} else if err := r.AddFile(s.path, s.acl, sum); err != nil {
			t.Fatal(err)
		}
	}
	want := []apk.InstalledDir{
		{Name: "etc", ACL: &apk.ACL{GID: 42, Mode: 0o750}, Files: []apk.InstalledFile{
			{Name: "motd", ACL: &apk.ACL{Mode: 0o600}, Checksum: sum}, {Name: "hosts", Checksum: sum}}},
		{Name: "", Files: []apk.InstalledFile{{Name: "linuxrc", ACL: &apk.ACL{Mode: 0o777}, Checksum: sum}}},
		{Name: "bin", Files: []apk.InstalledFile{{Name: "sh", ACL: &apk.ACL{Mode: 0o777}, Checksum: sum}}},
	}
	if !reflect.DeepEqual(r.Dirs, want) {
		t.Errorf("DirRecorder.Dirs =\n%+v\nwant\n%+v", r.Dirs, want)
	}
	if err := r.AddFile("usr/bin/x", apk.ACL{Mode: 0o755}, sum); err == nil || err.Error() != "recording usr/bin/x: no directory entry for usr/bin came before it" {
		t.Errorf("AddFile(usr/bin/x) without usr/bin = %v, want an error naming the directory", err)
	}

	ip := &apk.InstalledPackage{Dirs: r.Dirs}
	if !ip.RemoveFile("etc/motd") || ip.RemoveFile("etc/motd") || ip.RemoveFile("nope/motd") || !ip.RemoveFile("linuxrc") {
		t.Error("RemoveFile(etc/motd, etc/motd, nope/motd, linuxrc) != true, false, false, true")
	}
	if got := fmt.Sprint(len(ip.Dirs), len(ip.Dirs[0].Files), len(ip.Dirs[1].Files)); got != "3 1 0" {
		t.Errorf("after RemoveFile: dirs, etc files, root files = %s, want 3 1 0 (directories stay)", got)
	}
}

// TestDirRecorderUnsorted: apk keeps directories in the order they came
// and counts the new ones that sort before the last (and, once one did,
// every new one); at its next search after the count passed 32 it sorts
// the list (apk_db_diri_bsearch).
func TestDirRecorderUnsorted(t *testing.T) {
	var r apk.DirRecorder
	names := func() string {
		var s []string
		for _, d := range r.Dirs {
			s = append(s, d.Name)
		}
		return strings.Join(s, " ")
	}
	add := func(name string) { r.AddDir(name, apk.ACL{Mode: 0o755}) }
	// A sorted tar lists "a/00-x/" before "a/00/" ('-' < '/'), but as
	// directory names "a/00" sorts first: a/00 is the first out of order.
	add("a")
	var added []string
	for i := range 17 {
		add(fmt.Sprintf("a/%02d-x", i))
		add(fmt.Sprintf("a/%02d", i))
		added = append(added, fmt.Sprintf("a/%02d-x", i), fmt.Sprintf("a/%02d", i))
	}
	// Out of order: a/00 and the 32 after it, 33 in all.
	if got, want := names(), "a "+strings.Join(added, " "); got != want {
		t.Fatalf("after 35 directories, Dirs = %s; want %s", got, want)
	}
	add("a/05-y") // its search sorts the list first; it goes last
	sorted := slices.Clone(added)
	slices.Sort(sorted)
	if got, want := names(), "a "+strings.Join(sorted, " ")+" a/05-y"; got != want {
		t.Errorf("after one more, Dirs = %s; want %s", got, want)
	}
}

// BenchmarkInstalledDatabase records and writes the database of a
// balanced-sized tree: 150 packages, 25,000 files in 1,500 directories.
func BenchmarkInstalledDatabase(b *testing.B) {
	sum := bytes.Repeat([]byte{7}, 20)
	for b.Loop() {
		var db []*apk.InstalledPackage
		for p := range 150 {
			var r apk.DirRecorder
			for d := range 10 {
				dir := fmt.Sprintf("usr/lib/p%03d/d%02d", p, d)
				r.AddDir(dir, apk.ACL{Mode: 0o755})
				for f := range 17 {
					if err := r.AddFile(fmt.Sprintf("%s/file%02d.so", dir, f), apk.ACL{Mode: 0o644}, sum); err != nil {
						b.Fatal(err)
					}
				}
			}
			db = append(db, &apk.InstalledPackage{
				Package: &apk.Package{Name: fmt.Sprintf("p%03d", p), Version: "1.0-r0", Checksum: sum},
				Dirs:    r.Dirs,
			})
		}
		if err := apk.WriteInstalled(io.Discard, db); err != nil {
			b.Fatal(err)
		}
	}
}
