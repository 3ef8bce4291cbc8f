package apk_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// realInstalled reads a file of the real 3.20.3 minirootfs database.
func realInstalled(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "minirootfs-3.20.3", "lib", "apk", "db", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInstalledRoundTripReal parses the installed database of Alpine's
// 3.20.3 minirootfs (written by apk-tools 2.14, whose format apk 3 kept:
// apk_db_fdb_write writes the same fields in the same order) and writes it
// back: the bytes must be identical. Every field the file holds comes back.
func TestInstalledRoundTripReal(t *testing.T) {
	real := realInstalled(t, "installed")
	pkgs, err := apk.ReadInstalled(bytes.NewReader(real))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := apk.WriteInstalled(&out, pkgs); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(real) {
		g, w := strings.Split(got, "\n"), strings.Split(string(real), "\n")
		for i := 0; i < min(len(g), len(w)); i++ {
			if g[i] != w[i] {
				t.Fatalf("WriteInstalled(ReadInstalled(installed)) line %d = %q, want %q", i+1, g[i], w[i])
			}
		}
		t.Fatalf("WriteInstalled(ReadInstalled(installed)) has %d lines, want %d", len(g), len(w))
	}
}

// TestReadInstalledReal checks what ReadInstalled makes of the real
// database against facts read off the file by hand.
func TestReadInstalledReal(t *testing.T) {
	pkgs, err := apk.ReadInstalled(bytes.NewReader(realInstalled(t, "installed")))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*apk.InstalledPackage{}
	files := 0
	for _, ip := range pkgs {
		byName[ip.Name] = ip
		for _, d := range ip.Dirs {
			files += len(d.Files)
		}
	}
	if len(pkgs) != 14 || files != 107 {
		t.Errorf("ReadInstalled(3.20.3 installed) = %d packages, %d files; want 14, 107", len(pkgs), files)
	}
	base := byName["alpine-baselayout"]
	if base == nil || base.ReplacesPriority != 1000 || base.BuildTime != 1714981135 {
		t.Fatalf("alpine-baselayout = %+v, want q:1000 t:1714981135", base)
	}
	want := map[string]string{ // path → ACL read off the file (M:, a:)
		"root":              "0:0:700",
		"tmp":               "0:0:1777",
		"var/empty":         "0:0:555",
		"etc/crontabs/root": "0:0:600",
		"var/run":           "0:0:777",
		"etc/motd":          "default",
	}
	got := map[string]string{}
	acl := func(a *apk.ACL) string {
		if a == nil {
			return "default"
		}
		return fmt.Sprintf("%d:%d:%o", a.UID, a.GID, a.Mode)
	}
	for _, d := range base.Dirs {
		if _, ok := want[d.Name]; ok {
			got[d.Name] = acl(d.ACL)
		}
		for _, f := range d.Files {
			p := d.Name + "/" + f.Name
			if _, ok := want[p]; ok {
				got[p] = acl(f.ACL)
				if len(f.Checksum) != 20 {
					t.Errorf("%s: Checksum = %x, want 20 bytes", p, f.Checksum)
				}
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alpine-baselayout ACLs = %v, want %v", got, want)
	}
	bb := byName["busybox"]
	if bb == nil || len(bb.Replaces) != 1 || bb.Replaces[0].Name != "busybox-initscripts" {
		t.Errorf("busybox replaces = %v, want busybox-initscripts", bb.Replaces)
	}
}

var (
	sumA = bytes.Repeat([]byte{0xaa}, 20)
	sumB = bytes.Repeat([]byte{0xbb}, 20)
)

// sampleInstalled is a database with every kind of line WriteInstalled
// writes; sampleInstalledText is that database as apk writes it.
func sampleInstalled() []*apk.InstalledPackage {
	return []*apk.InstalledPackage{
		{
			Package: &apk.Package{Name: "zlib", Version: "1.3-r0", Checksum: sumB, Size: 10, InstalledSize: 20,
				Description: "zlib", URL: "https://zlib.net", License: "Zlib", BuildTime: 1700000000},
			Dirs: []apk.InstalledDir{{Name: "lib", Files: []apk.InstalledFile{{Name: "libz.so.1", Checksum: sumA}}}},
		},
		{
			Package: &apk.Package{Name: "Base", Version: "1-r0", Arch: "x86_64", Checksum: sumA,
				Depends:  []apk.Dependency{{Name: "zlib", Op: apk.OpAny}},
				Replaces: []apk.Dependency{{Name: "old-base", Op: apk.OpAny}}, ReplacesPriority: 100},
			Tags: []string{"t1", "t2"}, RepositoryTag: "edge", BrokenScript: true, SHA256Digests: true,
			Dirs: []apk.InstalledDir{
				// A file in the root directory: apk writes a bare F: first.
				{Name: "", Files: []apk.InstalledFile{{Name: "init", ACL: &apk.ACL{Mode: 0o777}, Checksum: sumB}}},
				// Dirs keep their order; files are sorted within one.
				{Name: "usr", ACL: &apk.ACL{Mode: 0o755}},
				{Name: "etc", Files: []apk.InstalledFile{
					{Name: "shadow", ACL: &apk.ACL{GID: 42, Mode: 0o640}, Checksum: sumA},
					{Name: "motd", ACL: &apk.ACL{Mode: 0o644}, Checksum: sumB},
					{Name: "hostname"}, // no checksum: no Z:
				}},
				{Name: "tmp", ACL: &apk.ACL{Mode: 0o1777}},
				{Name: "var/x", ACL: &apk.ACL{UID: 100, GID: 101, Mode: 0o750, XattrChecksum: sumB}, Files: []apk.InstalledFile{
					{Name: "cap", ACL: &apk.ACL{Mode: 0o4755, XattrChecksum: sumA}, Checksum: sumA},
				}},
			},
		},
	}
}

const (
	qA = "Q1qqqqqqqqqqqqqqqqqqqqqqqqqqo="
	qB = "Q1u7u7u7u7u7u7u7u7u7u7u7u7u7s="
)

var sampleInstalledText = "" +
	// "Base" before "zlib": apk sorts names case-insensitively.
	"C:" + qA + "\nP:Base\nV:1-r0\nA:x86_64\nS:0\nI:0\nT:\nU:\nL:\nD:zlib\n" +
	"g:t1 t2\nr:old-base\nq:100\ns:edge\nf:sS\n" +
	"F:\nR:init\na:0:0:777\nZ:" + qB + "\n" +
	"F:usr\n" +
	"F:etc\nR:hostname\nR:motd\nZ:" + qB + "\nR:shadow\na:0:42:640\nZ:" + qA + "\n" +
	"F:tmp\nM:0:0:1777\n" +
	"F:var/x\nM:100:101:750:" + qB + "\nR:cap\na:0:0:4755:" + qA + "\nZ:" + qA + "\n" +
	"\n" +
	"C:" + qB + "\nP:zlib\nV:1.3-r0\nS:10\nI:20\nT:zlib\nU:https://zlib.net\nL:Zlib\nt:1700000000\n" +
	"F:lib\nR:libz.so.1\nZ:" + qA + "\n" +
	"\n"

func TestWriteInstalled(t *testing.T) {
	var b bytes.Buffer
	if err := apk.WriteInstalled(&b, sampleInstalled()); err != nil || b.String() != sampleInstalledText {
		t.Fatalf("WriteInstalled(sample) = %v,\n%s\nwant\n%s", err, b.String(), sampleInstalledText)
	}
	var again bytes.Buffer
	if err := apk.WriteInstalled(&again, sampleInstalled()); err != nil || !bytes.Equal(again.Bytes(), b.Bytes()) {
		t.Errorf("WriteInstalled(sample) twice gave different bytes (%v)", err)
	}
}

// TestReadInstalled reads the sample back: the same packages, in the
// database's order, with files sorted and default ACLs (written as none)
// read as nil.
func TestReadInstalled(t *testing.T) {
	got, err := apk.ReadInstalled(strings.NewReader(sampleInstalledText))
	if err != nil {
		t.Fatal(err)
	}
	in := sampleInstalled()
	want := []*apk.InstalledPackage{in[1], in[0]}
	base := want[0]
	base.Dirs[1].ACL = nil                                                                                                 // usr: 0:0:755 is the default
	base.Dirs[2].Files = []apk.InstalledFile{base.Dirs[2].Files[2], {Name: "motd", Checksum: sumB}, base.Dirs[2].Files[0]} // sorted, motd's 0:0:644 is the default
	if len(got) != len(want) {
		t.Fatalf("ReadInstalled(sample) = %d packages, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("ReadInstalled(sample)[%d] =\n%s\nwant\n%s", i, dumpInstalled(got[i]), dumpInstalled(want[i]))
		}
	}
}

func TestWriteInstalledRefuses(t *testing.T) {
	pkg := func(dirs ...apk.InstalledDir) *apk.InstalledPackage {
		return &apk.InstalledPackage{Package: &apk.Package{Name: "p", Version: "1", Checksum: sumA}, Dirs: dirs}
	}
	files := func(fs ...apk.InstalledFile) apk.InstalledDir { return apk.InstalledDir{Name: "d", Files: fs} }
	for _, tc := range []struct {
		name string
		in   *apk.InstalledPackage
		want string
	}{
		{"nil", nil, "nil installed package"},
		{"no record", &apk.InstalledPackage{}, "nil installed package"},
		{"no checksum", &apk.InstalledPackage{Package: &apk.Package{Name: "p", Version: "1"}}, "has no checksum"},
		{"twice", &apk.InstalledPackage{Package: &apk.Package{Name: "good", Version: "2", Checksum: sumB}}, "package good is listed twice"},
		{"absolute dir", pkg(apk.InstalledDir{Name: "/etc"}), `directory "/etc" is not a clean relative path`},
		{"dotdot dir", pkg(apk.InstalledDir{Name: "a/../b"}), `directory "a/../b" is not a clean relative path`},
		{"slash dir", pkg(apk.InstalledDir{Name: "etc/"}), `directory "etc/" is not a clean relative path`},
		{"newline dir", pkg(apk.InstalledDir{Name: "a\nR:b"}), "is not a clean relative path"},
		{"dir twice", pkg(apk.InstalledDir{Name: "etc"}, apk.InstalledDir{Name: "etc"}), `directory "etc" is listed twice`},
		{"file with slash", pkg(files(apk.InstalledFile{Name: "a/b"})), `file "d/a/b" is not a base name`},
		{"empty file name", pkg(files(apk.InstalledFile{})), `file "d/" is not a base name`},
		{"file twice", pkg(files(apk.InstalledFile{Name: "a"}, apk.InstalledFile{Name: "a"})), `file "d/a" is listed twice`},
		{"short checksum", pkg(files(apk.InstalledFile{Name: "a", Checksum: []byte{1}})), `file "d/a": checksum has 1 bytes, want 20`},
		{"big mode", pkg(files(apk.InstalledFile{Name: "a", ACL: &apk.ACL{Mode: 0o10644}})), "mode 010644 has bits above 07777"},
		{"short xattr sum", pkg(apk.InstalledDir{Name: "d", ACL: &apk.ACL{Mode: 0o755, XattrChecksum: []byte{1}}}), "xattr checksum has 1 bytes"},
		{"bad tag", &apk.InstalledPackage{Package: &apk.Package{Name: "p", Version: "1", Checksum: sumA}, Tags: []string{"a b"}}, `tag "a b" cannot be written`},
		{"bad repository tag", &apk.InstalledPackage{Package: &apk.Package{Name: "p", Version: "1", Checksum: sumA}, RepositoryTag: "@x y"}, "is not a valid name"},
	} {
		good := &apk.InstalledPackage{Package: &apk.Package{Name: "good", Version: "1", Checksum: sumA}}
		in := []*apk.InstalledPackage{good, tc.in}
		var b bytes.Buffer
		err := apk.WriteInstalled(&b, in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "writing installed database: ") || b.Len() != 0 {
			t.Errorf("WriteInstalled(%s) = %q, %v; want nothing written and an error containing %q", tc.name, b.String(), err, tc.want)
		}
	}
}

func TestReadInstalledErrors(t *testing.T) {
	rec := "C:" + qA + "\nP:p\nV:1\n"
	for _, tc := range []struct {
		in   string
		want string
	}{
		{rec + "F:\nR:a\nR:a\n", `installed:6: field R: file "a" is listed twice in directory ""`},
		{rec + "R:a\n", "installed:4: field R: R:a before any F: (a file in the root directory needs an empty F: line)"},
		{rec + "F:a\nF:a\n", `installed:5: field F: directory "a" is listed twice`},
		{"C:" + qA + "\nF:a\n", "installed:2: field F: F: before the record's P:"},
		{rec + "M:0:0:755\n", "installed:4: field M: M: before any F:"},
		{rec + "F:a\nM:0:0:755\nM:0:0:700\n", `installed:6: field M: second M: for directory "a"`},
		{rec + "F:a\nM:0:0\n", `installed:5: field M: "0:0" is not uid:gid:mode[:xattr-checksum]`},
		{rec + "F:a\nM:0:0:9\n", `installed:5: field M: "0:0:9" is not uid:gid:mode[:xattr-checksum]`},
		{rec + "F:a\nM:0:0:17777\n", "installed:5: field M: mode 17777 in \"0:0:17777\" has bits above 07777"},
		{rec + "F:a\nM:0:0:755:X1aa\n", `installed:5: field M: xattr checksum in "0:0:755:X1aa"`},
		{rec + "F:a\nM:-1:0:755\n", `installed:5: field M: "-1:0:755" is not uid:gid:mode[:xattr-checksum]`},
		{rec + "F:a\na:0:0:644\n", "installed:5: field a: a: before any R: of its directory"},
		{rec + "F:a\nR:b\nF:c\nZ:" + qA + "\n", "installed:7: field Z: Z: before any R: of its directory"},
		{rec + "F:a\nR:b\nZ:" + qA + "\nZ:" + qA + "\n", `installed:7: field Z: second Z: for file "b"`},
		{rec + "F:a\nR:b\nZ:Q1short\n", `installed:6: field Z: decoding checksum "Q1short"`},
		{rec + "F:a\nR:b\na:0:0:644\na:0:0:644\n", `installed:7: field a: second a: for file "b"`},
		{rec + "f:sz\n", `installed:4: field f: unknown flag 'z' in "sz"`},
		{rec + "X:new\n", "installed:4: field X: unknown field X: (written by a newer apk?)"},
		{rec + "e:new\n", "installed:4: field e: unknown field e: (written by a newer apk?)"},
		{rec + "D:a>\n", "installed:4: field D: depends: "},
		{rec + "i:a>\n", `installed:4: field i: install_if "a>" does not parse`},
		{rec + "r:!\n", "installed:4: field r: "},
		{rec + "q:-1\n", "installed:4: field q: "},
		{rec + "nonsense\n", `installed:4: line "nonsense" is not X:value`},
		{"P:p\nV:1\nF:\n\n", "installed:1: record has no C: field"},
		{rec + "\nP:q\nC:" + qA + "\n", "installed:5: record has no V: field"},
		{rec + strings.Repeat("x", 2<<20) + "\n", "installed:4: reading: "},
	} {
		pkgs, err := apk.ReadInstalled(strings.NewReader(tc.in))
		var ie *apk.IndexError
		if !errors.As(err, &ie) || ie.File != "installed" || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ReadInstalled(%.60q) = %d packages, %v; want an *IndexError starting %q", tc.in, len(pkgs), err, tc.want)
		}
	}
}

// FuzzReadInstalled: whatever ReadInstalled accepts, WriteInstalled either
// refuses with an error or writes a database that reads back to the same
// bytes when written again.
func FuzzReadInstalled(f *testing.F) {
	f.Add(sampleInstalledText)
	f.Fuzz(func(t *testing.T, s string) {
		pkgs, err := apk.ReadInstalled(strings.NewReader(s))
		if err != nil {
			return
		}
		var first bytes.Buffer
		if err := apk.WriteInstalled(&first, pkgs); err != nil {
			if !strings.HasPrefix(err.Error(), "writing installed database: ") || first.Len() != 0 {
				t.Fatalf("WriteInstalled refused with %q after writing %d bytes", err, first.Len())
			}
			return
		}
		again, err := apk.ReadInstalled(bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatalf("re-reading %q: %v", first.String(), err)
		}
		var second bytes.Buffer
		if err := apk.WriteInstalled(&second, again); err != nil || second.String() != first.String() {
			t.Fatalf("written again = %q, %v; want %q", second.String(), err, first.String())
		}
	})
}

// dumpInstalled spells out ip for test failures (%+v would print only
// the record's String).
func dumpInstalled(ip *apk.InstalledPackage) string {
	c := *ip
	c.Package = nil
	return fmt.Sprintf("%+v\n%#v", *ip.Package, c)
}

// TestFuzzReadInstalledSeeds: the seeds in testdata/fuzz/FuzzReadInstalled
// are databases as apk writes them, so the fuzz target starts from the
// accepting path: each is read and written back unchanged.
func TestFuzzReadInstalledSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReadInstalled")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("reading %s: %d seeds, %v", dir, len(entries), err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "go test fuzz v1\nstring(")
		if q, ok = strings.CutSuffix(q, ")"); !ok {
			t.Fatalf("%s is not a go test fuzz v1 file with one string", e.Name())
		}
		seed, err := strconv.Unquote(q)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		pkgs, err := apk.ReadInstalled(strings.NewReader(seed))
		var out bytes.Buffer
		if err == nil {
			err = apk.WriteInstalled(&out, pkgs)
		}
		if err != nil || out.String() != seed {
			t.Errorf("seed %s written back = %q, %v; want it unchanged", e.Name(), out.String(), err)
		}
	}
}
