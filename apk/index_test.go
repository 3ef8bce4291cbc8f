package apk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// A record of the real v3.23 index (busybox-binsh), with an extra D: line.
const sampleIndex = `C:Q1oLBiW0dPaMhBiqJgmCwMLf5QbZQ=
P:busybox-binsh
V:1.37.0-r30
A:x86_64
S:1547
I:1
T:busybox ash /bin/sh  
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1767616564
c:10efa35a7f79a98cd41c33e6d1b8085dd7ed8d13
k:100
D:busybox=1.37.0-r30
p:/bin/sh cmd:sh=1.37.0-r30
i:busybox=1.37.0-r30 !dash-binsh
x:unknown lower-case field

C:Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=
P:b
V:1
`

func TestParseIndex(t *testing.T) {
	pkgs, err := ParseIndex(strings.NewReader(sampleIndex))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 {
		t.Fatalf("ParseIndex = %d records, want 2", len(pkgs))
	}
	p := pkgs[0]
	want := &Package{
		Name: "busybox-binsh", Version: "1.37.0-r30", Arch: "x86_64",
		Checksum: []byte{0xa0, 0xb0, 0x62, 0x5b, 0x47, 0x4f, 0x68, 0xc8, 0x41, 0x8a, 0xa2, 0x60, 0x98, 0x2c, 0x0c, 0x2d, 0xfe, 0x50, 0x6d, 0x94},
		Size:     1547, InstalledSize: 1,
		Description: "busybox ash /bin/sh  ", URL: "https://busybox.net/", License: "GPL-2.0-only",
		Origin: "busybox", Maintainer: "Sören Tempel <soeren+alpine@soeren-tempel.net>",
		BuildTime: 1767616564, Commit: "10efa35a7f79a98cd41c33e6d1b8085dd7ed8d13",
		ProviderPriority: 100, HasProviderPriority: true,
		Depends:   []Dependency{{Name: "busybox", Op: OpEqual, Version: "1.37.0-r30"}},
		Provides:  []Dependency{{Name: "/bin/sh", Op: OpAny}, {Name: "cmd:sh", Op: OpEqual, Version: "1.37.0-r30"}},
		InstallIf: []Dependency{{Name: "busybox", Op: OpEqual, Version: "1.37.0-r30"}, {Name: "dash-binsh", Conflict: true, Op: OpAny}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("ParseIndex record 1 =\n%+v\nwant\n%+v", p, want)
	}
	if got := FormatChecksum(p.Checksum); got != "Q1oLBiW0dPaMhBiqJgmCwMLf5QbZQ=" {
		t.Errorf("checksum round trip = %s", got)
	}
	if got := pkgs[1].String(); got != "b-1" {
		t.Errorf("record 2 String() = %q, want b-1", got)
	}
}

func TestParseIndexUninstallable(t *testing.T) {
	for _, tt := range []struct {
		field  string
		reason string // "" = installable
	}{
		{"Z:future upper-case field", "unknown field Z:"}, // Z is installed-db only: ignored
		{"X:future upper-case field", "unknown field X:"},
		{"D:invalid-dependency@tag", "depends:"},
		{"D:foo=bar", "depends:"},
		{"p:foo>1", "provides:"},
		{"p:foo=v1", ""},
		{"i:foo=bar", ""},
		{"y:future lower-case field", ""},
	} {
		pkgs, err := ParseIndex(strings.NewReader("C:Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=\nP:a\nV:1\n" + tt.field + "\n"))
		if err != nil {
			t.Errorf("ParseIndex with %q: %v", tt.field, err)
			continue
		}
		p := pkgs[0]
		if tt.field[0] == 'Z' {
			tt.reason = ""
		}
		if p.Uninstallable != (tt.reason != "") || !strings.HasPrefix(p.UninstallableReason, tt.reason) {
			t.Errorf("ParseIndex with %q: Uninstallable = %v (%q), want reason %q", tt.field, p.Uninstallable, p.UninstallableReason, tt.reason)
		}
		if tt.field[0] == 'i' && (!p.BrokenInstallIf || p.InstallIf != nil) {
			t.Errorf("ParseIndex with %q: install_if kept", tt.field)
		}
	}
}

func TestParseIndexErrors(t *testing.T) {
	const head = "C:Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=\nP:a\nV:1\n"
	for _, tt := range []struct {
		in   string
		want string
	}{
		{head + "S:12x\n", `APKINDEX:4: field S: "12x": not a decimal number`},
		{head + "I:-1\n", `APKINDEX:4: field I: "-1": not a decimal number`},
		{head + "k:\n", `APKINDEX:4: field k: "": not a decimal number`},
		{"P:a\nV:1\nC:Q2C4uoV7SdMdDhYg4OCVmI71D8HIA=\n", `APKINDEX:3: field C: decoding checksum "Q2C4uoV7SdMdDhYg4OCVmI71D8HIA=": checksum is not "Q1" followed by a base64 SHA-1`},
		{"P:a\nV:1\nC:Q1notbase64!\n", `APKINDEX:3: field C: decoding checksum "Q1notbase64!": checksum is not "Q1" followed by a base64 SHA-1`},
		{"P:a\nV:1 x\n", `APKINDEX:2: field V: invalid version "1 x"`},
		{"P:a b\n", `APKINDEX:1: field P: invalid package name "a b"`},
		{head + "\nP:b\nV:1\n", `APKINDEX:5: record has no C: field`},
		{head + "\nC:Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=\nV:1\n", `APKINDEX:5: record has no P: field`},
		{head + "garbage\n", `APKINDEX:4: line "garbage" is not X:value`},
		{head + "x\n", `APKINDEX:4: line "x" is not X:value`},
	} {
		pkgs, err := ParseIndex(strings.NewReader(tt.in))
		var ie *IndexError
		if !errors.As(err, &ie) || err.Error() != tt.want || pkgs != nil {
			t.Errorf("ParseIndex(%q) = %d records, %v, want %s", tt.in, len(pkgs), err, tt.want)
		}
	}
}

// readAPKINDEX returns the APKINDEX member of an index archive; signatures
// are H4's business, so this reads straight through the gzip members.
func readAPKINDEX(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("reading %s: no APKINDEX member: %v", path, err)
		}
		if h.Name == "APKINDEX" {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestParseRealIndexes(t *testing.T) {
	dir := filepath.Join(testenv.SharedTestdata(t), "indexes")
	for _, tt := range []struct {
		file    string
		records int
		// Records apk-tools also refuses or trims: versions outside the
		// grammar in D: (uninstallable) and in i: (dropped).
		uninstallable, brokenIIF []string
	}{
		{"alpine-v3.16-main-x86_64.APKINDEX.tar.gz", 4929,
			[]string{"opensmtpd-pam-6.8.0p2-r4"}, []string{"opensmtpd-doc-6.8.0p2-r4", "opensmtpd-openrc-6.8.0p2-r4"}},
		{"alpine-v3.17-main-aarch64.APKINDEX.tar.gz", 5004, nil, nil},
		{"v3.23-x86_64-subset-unsigned.APKINDEX.tar.gz", 107, nil, nil},
	} {
		pkgs, err := ParseIndex(bytes.NewReader(readAPKINDEX(t, filepath.Join(dir, tt.file))))
		if err != nil {
			t.Errorf("ParseIndex(%s): %v", tt.file, err)
			continue
		}
		if len(pkgs) != tt.records {
			t.Errorf("ParseIndex(%s) = %d records, want %d", tt.file, len(pkgs), tt.records)
		}
		var uninstallable, brokenIIF []string
		for _, p := range pkgs {
			if p.Uninstallable {
				uninstallable = append(uninstallable, p.String())
			}
			if p.BrokenInstallIf {
				brokenIIF = append(brokenIIF, p.String())
			}
		}
		if !reflect.DeepEqual(uninstallable, tt.uninstallable) || !reflect.DeepEqual(brokenIIF, tt.brokenIIF) {
			t.Errorf("ParseIndex(%s): uninstallable %q, broken i: %q; want %q, %q", tt.file, uninstallable, brokenIIF, tt.uninstallable, tt.brokenIIF)
		}
	}
}

// formatIndex writes records back as index text (the fields ParseIndex keeps).
func formatIndex(pkgs []*Package) string {
	var b strings.Builder
	deps := func(ds []Dependency) string {
		s := make([]string, len(ds))
		for i, d := range ds {
			s[i] = d.String()
		}
		return strings.Join(s, " ")
	}
	for _, p := range pkgs {
		b.WriteString("C:" + FormatChecksum(p.Checksum) + "\nP:" + p.Name + "\nV:" + p.Version + "\n")
		for _, f := range []struct{ k, v string }{
			{"A", p.Arch}, {"T", p.Description}, {"U", p.URL}, {"L", p.License}, {"o", p.Origin},
			{"m", p.Maintainer}, {"c", p.Commit}, {"D", deps(p.Depends)}, {"p", deps(p.Provides)},
			{"i", deps(p.InstallIf)}, {"r", deps(p.Replaces)},
		} {
			if f.v != "" {
				b.WriteString(f.k + ":" + f.v + "\n")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func FuzzParseIndex(f *testing.F) {
	f.Add(sampleIndex)
	f.Add("C:Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=\nP:a\nV:1\nD:b>1 !c\n\n\nC:Q1hdUpqRv5mYgJEqW52UmVsvmyysE=\nP:b\nV:2\np:so:b.so=1\n")
	f.Fuzz(func(t *testing.T, s string) {
		pkgs, err := ParseIndex(strings.NewReader(s))
		if err != nil {
			return
		}
		// Installable records survive a write and re-read unchanged.
		var ok []*Package
		for _, p := range pkgs {
			if !p.Uninstallable && !p.BrokenInstallIf && !strings.ContainsAny(p.Description+p.URL+p.License+p.Origin+p.Maintainer+p.Commit+p.Arch, "\r\n") {
				q := *p
				q.Size, q.InstalledSize, q.BuildTime, q.ProviderPriority, q.HasProviderPriority, q.ReplacesPriority = 0, 0, 0, 0, false, 0
				ok = append(ok, &q)
			}
		}
		text := formatIndex(ok)
		again, err := ParseIndex(strings.NewReader(text))
		if err != nil {
			t.Fatalf("re-reading %q: %v", text, err)
		}
		if len(again) != len(ok) {
			t.Fatalf("re-read %d records, want %d", len(again), len(ok))
		}
		for i := range ok {
			if !reflect.DeepEqual(ok[i], again[i]) {
				t.Fatalf("record %d: %+v re-read as %+v", i, ok[i], again[i])
			}
		}
	})
}
