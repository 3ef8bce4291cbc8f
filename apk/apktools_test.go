package apk_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// apkToolsPackages are installed by TestApkToolsJudgesDatabase: the first
// two by the test, the last by apk-tools.
var apkToolsPackages = []apktest.Pkg{
	{
		Name: "base", Version: "1.0-r0", Origin: "base", Description: "base  dirs ", License: "MIT", URL: "https://example.org/base",
		Replaces: []string{"old-base"},
		Scripts:  map[string]string{"pre-install": "#!/bin/sh\nexit 0\n", "post-install": "#!/bin/sh\necho hi\n"},
		Files: []apktest.File{
			{Name: "etc/"},
			{Name: "etc/motd", Data: []byte("welcome\n")},
			{Name: "etc/secret", Mode: 0o600, Data: []byte("s\n")},
			{Name: "linuxrc", Linkname: "/bin/tool"},
			{Name: "root/", Mode: fs.ModeDir | 0o700},
			{Name: "tmp/", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
			{Name: "var/empty/", Mode: fs.ModeDir | 0o555},
		},
	},
	{
		Name: "tool", Version: "2.1-r3", Depends: []string{"base"}, Provides: []string{"cmd:tool=2.1-r3"},
		Triggers: []string{"/usr/lib/tool/*", "/usr/share/tool"},
		Scripts:  map[string]string{"trigger": "#!/bin/sh\necho trigger \"$@\"\n", "post-upgrade": "#!/bin/sh\n"},
		Files: []apktest.File{
			{Name: "bin/tool", Mode: 0o755, Data: []byte("#!/bin/sh\necho tool\n")},
			{Name: "bin/tool2", Hardlink: "bin/tool"},
			{Name: "usr/bin/su", Mode: fs.ModeSetuid | 0o755, Data: []byte("su\n")},
			{Name: "usr/lib/tool/", Mode: fs.ModeDir | 0o750},
			{Name: "usr/lib/tool-data/x", Data: []byte("x\n")},
		},
	},
	{
		Name: "extra", Version: "0.1-r0", Depends: []string{"tool"},
		Scripts: map[string]string{"post-install": "#!/bin/sh\nexit 0\n"},
		Files: []apktest.File{
			{Name: "usr/share/extra/a", Data: []byte("a\n")},
			{Name: "usr/share/extra-doc/b", Data: []byte("b\n")},
			{Name: "usr/share/extra/link", Linkname: "a"},
			{Name: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
		},
	},
}

// TestApkToolsJudgesDatabase has apk-tools 3 itself judge the database:
// packages installed here (files extracted, database written by
// WriteInstalled, WriteTriggers and WriteScriptsArchive) must pass
// `apk audit --system`, and after apk installs one more package its own
// rewrite of the database (and of the world) must equal what this
// package writes for all three, byte for byte (the scripts archive
// compared decompressed).
//
// It also reads apk's files back with ReadInstalled, ReadTriggers and
// ReadScriptsArchive and expects the paths, triggers and scripts it began
// with.
//
// apk-tools is not packaged for the Debian the CI runs on, so the test
// runs only when ROOTFS_SYNTH_APK names an apk binary. apk-tools' own
// `make LUA=no ZSTD=no` builds one (src/apk, with LD_LIBRARY_PATH=src for
// its libapk.so; on glibc before 2.38 add a strlcpy to CFLAGS).
func TestApkToolsJudgesDatabase(t *testing.T) {
	apkBin := os.Getenv("ROOTFS_SYNTH_APK")
	if apkBin == "" {
		t.Skip("set ROOTFS_SYNTH_APK to an apk-tools 3 binary to have it judge the database")
	}
	repo := apktest.NewRepo(nil)
	for _, p := range apkToolsPackages {
		if _, err := repo.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	root, mirror := filepath.Join(dir, "root"), filepath.Join(dir, "mirror")
	if err := repo.WriteDir(mirror); err != nil {
		t.Fatal(err)
	}
	var db []*apk.InstalledPackage
	for _, b := range repo.Packages {
		db = append(db, installForTest(t, root, b, len(db) < 2))
	}
	mine := db[:2]
	writeDB(t, root, mine)
	for name, text := range map[string]string{"etc/apk/world": "base\ntool\n", "etc/apk/arch": "x86_64\n"} {
		writeFile(t, filepath.Join(root, name), []byte(text))
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(apkBin, append([]string{"--root", root, "--repositories-file", "/dev/null",
			"--repository", repo.URL(mirror), "--allow-untrusted", "--no-cache", "--no-interactive"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("apk %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("audit", "--system"); out != "" {
		t.Errorf("apk audit --system on our database =\n%s\nwant nothing", out)
	}
	if os.Geteuid() == 0 {
		if out := run("audit", "--system", "--check-permissions"); out != "" {
			t.Errorf("apk audit --system --check-permissions on our database =\n%s\nwant nothing", out)
		}
	}
	t.Logf("apk add extra:\n%s", run("add", "--no-scripts", "extra"))

	var want bytes.Buffer
	if err := apk.WriteInstalled(&want, db); err != nil {
		t.Fatal(err)
	}
	compareLines(t, "installed", readFile(t, filepath.Join(root, "lib/apk/db/installed")), want.Bytes())
	want.Reset()
	if err := apk.WriteWorld(&want, []apk.Dependency{{Name: "tool", Op: apk.OpAny}, {Name: "extra", Op: apk.OpAny}, {Name: "base", Op: apk.OpAny}}); err != nil {
		t.Fatal(err)
	}
	compareLines(t, "world", readFile(t, filepath.Join(root, "etc/apk/world")), want.Bytes())
	want.Reset()
	if err := apk.WriteTriggers(&want, db); err != nil {
		t.Fatal(err)
	}
	compareLines(t, "triggers", readFile(t, filepath.Join(root, "lib/apk/db/triggers")), want.Bytes())
	want.Reset()
	if err := apk.WriteScriptsArchive(&want, db); err != nil {
		t.Fatal(err)
	}
	if got, w := gunzip(t, readFile(t, filepath.Join(root, "lib/apk/db/scripts.tar.gz"))), gunzip(t, want.Bytes()); !bytes.Equal(got, w) {
		t.Errorf("apk's scripts archive differs from WriteScriptsArchive's:\n%s\nwant\n%s", tarListing(t, got), tarListing(t, w))
	}

	// And the readers take apk's files back to what we started from.
	back, err := apk.ReadInstalled(bytes.NewReader(readFile(t, filepath.Join(root, "lib/apk/db/installed"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := apk.ReadTriggers(bytes.NewReader(readFile(t, filepath.Join(root, "lib/apk/db/triggers"))), back); err != nil {
		t.Fatal(err)
	}
	if err := apk.ReadScriptsArchive(bytes.NewReader(readFile(t, filepath.Join(root, "lib/apk/db/scripts.tar.gz"))), back); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(db) {
		t.Fatalf("apk's database read back has %d packages, want %d", len(back), len(db))
	}
	for _, w := range db {
		i := slices.IndexFunc(back, func(ip *apk.InstalledPackage) bool { return ip.Name == w.Name })
		if i < 0 || !reflect.DeepEqual(back[i].Dirs, w.Dirs) || !reflect.DeepEqual(back[i].Triggers, w.Triggers) || !reflect.DeepEqual(back[i].Scripts, w.Scripts) {
			t.Errorf("apk's database read back lacks or changed %s, want\n%s", w, dumpInstalled(w))
		}
	}
}

// installForTest reads a built package through PackageReader and a
// DirRecorder, extracting it below root when extract is set, and returns
// its database entry.
func installForTest(t *testing.T, root string, b apktest.Built, extract bool) *apk.InstalledPackage {
	t.Helper()
	r, err := apk.NewPackageReader(bytes.NewReader(b.Data), b.Record)
	if err != nil {
		t.Fatal(err)
	}
	var rec apk.DirRecorder
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(hdr.Name))
		mode := fs.FileMode(hdr.Mode).Perm()
		for bit, m := range map[int64]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
			if hdr.Mode&bit != 0 {
				mode |= m
			}
		}
		if hdr.Typeflag == tar.TypeDir {
			rec.AddDir(hdr.Name, headerACL(hdr))
			if extract {
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, mode); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		if extract {
			switch hdr.Typeflag {
			case tar.TypeSymlink:
				err = os.Symlink(hdr.Linkname, p)
			case tar.TypeLink:
				err = os.Link(filepath.Join(root, filepath.FromSlash(hdr.Linkname)), p)
			default:
				var content []byte
				if content, err = io.ReadAll(r); err == nil {
					if err = os.WriteFile(p, content, 0o600); err == nil {
						err = os.Chmod(p, mode)
					}
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		sum, err := r.Checksum()
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.AddFile(hdr.Name, headerACL(hdr), sum); err != nil {
			t.Fatal(err)
		}
	}
	info := r.Info()
	return &apk.InstalledPackage{Package: &info.Package, Dirs: rec.Dirs, Triggers: info.Triggers, Scripts: info.Scripts}
}

func writeDB(t *testing.T, root string, db []*apk.InstalledPackage) {
	t.Helper()
	for name, write := range map[string]func(io.Writer, []*apk.InstalledPackage) error{
		"installed": apk.WriteInstalled, "triggers": apk.WriteTriggers, "scripts.tar.gz": apk.WriteScriptsArchive,
	} {
		var b bytes.Buffer
		if err := write(&b, db); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, "lib/apk/db", name), b.Bytes())
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compareLines(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < min(len(g), len(w)); i++ {
		if g[i] != w[i] {
			t.Errorf("apk's %s line %d = %q, ours %q\napk's:\n%s", what, i+1, g[i], w[i], got)
			return
		}
	}
	t.Errorf("apk's %s has %d lines, ours %d\napk's:\n%s", what, len(g), len(w), got)
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tarListing(t *testing.T, b []byte) string {
	t.Helper()
	var s []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err != nil {
			s = append(s, "end: "+err.Error())
			return strings.Join(s, "\n")
		}
		s = append(s, hdr.Name+" "+fs.FileMode(hdr.Mode).String()+" "+hdr.ModTime.String())
	}
}

// TestApkToolsRealPackages has apk-tools install a real v3.23 package
// from its file into an empty root and compares the database it writes
// with ours for the same package: the record from .PKGINFO (PackageInfo),
// the paths from DirRecorder. (The other real ones depend on packages not
// in shared testdata.)
func TestApkToolsRealPackages(t *testing.T) {
	apkBin := os.Getenv("ROOTFS_SYNTH_APK")
	if apkBin == "" {
		t.Skip("set ROOTFS_SYNTH_APK to an apk-tools 3 binary to have it judge the database")
	}
	root := filepath.Join(t.TempDir(), "root")
	for name, text := range map[string]string{"etc/apk/world": "", "etc/apk/arch": "x86_64\n", "lib/apk/db/installed": ""} {
		writeFile(t, filepath.Join(root, name), []byte(text))
	}
	var db []*apk.InstalledPackage
	args := []string{"--root", root, "--repositories-file", "/dev/null", "--allow-untrusted", "--no-cache", "--no-interactive", "add", "--no-scripts"}
	for _, file := range []string{"ca-certificates-bundle-20251003-r0.apk"} {
		b := apktest.Built{Record: realRecord(t, file), Data: readShared(t, "packages", file)}
		db = append(db, installForTest(t, root, b, false))
		p := filepath.Join(t.TempDir(), file)
		writeFile(t, p, b.Data)
		args = append(args, p)
	}
	out, err := exec.Command(apkBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("apk add: %v\n%s", err, out)
	}
	var want bytes.Buffer
	if err := apk.WriteInstalled(&want, db); err != nil {
		t.Fatal(err)
	}
	compareLines(t, "installed", readFile(t, filepath.Join(root, "lib/apk/db/installed")), want.Bytes())
}
