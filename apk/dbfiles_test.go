package apk_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"io"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestTriggersRoundTripReal reads the real 3.20.3 triggers file into the
// packages of its installed database and writes it back byte for byte.
func TestTriggersRoundTripReal(t *testing.T) {
	pkgs, err := apk.ReadInstalled(bytes.NewReader(realInstalled(t, "installed")))
	if err != nil {
		t.Fatal(err)
	}
	real := realInstalled(t, "triggers")
	if err := apk.ReadTriggers(bytes.NewReader(real), pkgs); err != nil {
		t.Fatal(err)
	}
	with := map[string][]string{}
	for _, ip := range pkgs {
		if len(ip.Triggers) > 0 {
			with[ip.String()] = ip.Triggers
		}
	}
	want := map[string][]string{"busybox-1.36.1-r29": {"/bin", "/usr/bin", "/sbin", "/usr/sbin", "/lib/modules/*"}}
	if !reflect.DeepEqual(with, want) {
		t.Errorf("ReadTriggers(3.20.3 triggers) gave triggers %q, want %q", with, want)
	}
	var out bytes.Buffer
	if err := apk.WriteTriggers(&out, pkgs); err != nil || out.String() != string(real) {
		t.Errorf("WriteTriggers = %q, %v; want %q", out.String(), err, real)
	}
}

// scriptedPackages are two packages with scripts and triggers, in an order
// other than apk's.
func scriptedPackages() []*apk.InstalledPackage {
	long := strings.Repeat("x", 90) // entry name over tar's 99 bytes
	return []*apk.InstalledPackage{
		{
			Package:  &apk.Package{Name: long, Version: "2.0-r1", Checksum: sumB, BuildTime: 1700000001},
			Scripts:  map[string][]byte{".pre-deinstall": []byte("#!/bin/sh\nexit 0\n")},
			Triggers: []string{"/usr/share/x/*"},
		},
		{Package: &apk.Package{Name: "plain", Version: "1", Checksum: bytes.Repeat([]byte{0xcc}, 20)}},
		{
			Package: &apk.Package{Name: "busybox", Version: "1.37.0-r30", Checksum: sumA, BuildTime: 1700000000},
			Scripts: map[string][]byte{
				".trigger":      []byte("#!/bin/sh\nbusybox --install -s\n"),
				".post-install": []byte("#!/bin/sh\naddgroup -S klogd 2>/dev/null\nexit 0\n"),
				".pre-install":  {},
				".post-upgrade": []byte(strings.Repeat("# padding past one block\n", 30)),
			},
			Triggers: []string{"/bin", "/usr/bin", "/lib/modules/*"},
		},
	}
}

func TestWriteTriggers(t *testing.T) {
	var b bytes.Buffer
	want := "Q1qqqqqqqqqqqqqqqqqqqqqqqqqqo= /bin /usr/bin /lib/modules/*\n" + qB + " /usr/share/x/*\n"
	if err := apk.WriteTriggers(&b, scriptedPackages()); err != nil || b.String() != want {
		t.Errorf("WriteTriggers(scripted) = %q, %v; want %q", b.String(), err, want)
	}
	for _, bad := range []string{"", "/a b", "/a\n"} {
		pkgs := scriptedPackages()
		pkgs[2].Triggers = append(pkgs[2].Triggers, bad)
		b.Reset()
		if err := apk.WriteTriggers(&b, pkgs); err == nil || !strings.Contains(err.Error(), "package busybox-1.37.0-r30: trigger") || b.Len() != 0 {
			t.Errorf("WriteTriggers(trigger %q) = %q, %v; want nothing written and an error naming the package", bad, b.String(), err)
		}
	}
}

func TestReadTriggers(t *testing.T) {
	pkgs := scriptedPackages()
	for _, ip := range pkgs {
		ip.Triggers = nil
	}
	// A line for a package not installed is ignored, as apk does; X1 is
	// read too.
	in := "X1" + hex.EncodeToString(sumA) + " /bin /usr/bin\n\nQ1AAAAAAAAAAAAAAAAAAAAAAAAAAA= /gone\n" + qB + " /x\n"
	if err := apk.ReadTriggers(strings.NewReader(in), pkgs); err != nil {
		t.Fatal(err)
	}
	got := [][]string{pkgs[0].Triggers, pkgs[1].Triggers, pkgs[2].Triggers}
	if want := [][]string{{"/x"}, nil, {"/bin", "/usr/bin"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("ReadTriggers(%q) = %q, want %q", in, got, want)
	}
	err := apk.ReadTriggers(strings.NewReader(qB+" /x\nQ1bad /y\n"), pkgs)
	var ie *apk.IndexError
	if !errors.As(err, &ie) || err.Error() != `triggers:2: decoding checksum "Q1bad": checksum is not "Q1" followed by a base64 SHA-1` {
		t.Errorf("ReadTriggers(bad checksum on line 2) = %v, want a triggers:2 *IndexError", err)
	}
}

// scriptEntry is what a scripts archive entry must be.
type scriptEntry struct {
	name  string
	body  string
	mtime int64
}

func wantScriptEntries() []scriptEntry {
	pkgs := scriptedPackages()
	bb, long := pkgs[2], pkgs[0]
	bbName := "busybox-1.37.0-r30.X1" + strings.Repeat("aa", 20) + "."
	return []scriptEntry{
		// Packages in apk's order; each one's scripts in apk_script_types order.
		{bbName + "pre-install", "", 1700000000},
		{bbName + "post-install", string(bb.Scripts[".post-install"]), 1700000000},
		{bbName + "post-upgrade", string(bb.Scripts[".post-upgrade"]), 1700000000},
		{bbName + "trigger", string(bb.Scripts[".trigger"]), 1700000000},
		{long.Name + "-2.0-r1.X1" + strings.Repeat("bb", 20) + ".pre-deinstall", string(long.Scripts[".pre-deinstall"]), 1700000001},
	}
}

// TestWriteScriptsArchive reads the archive back with archive/tar and checks
// every entry and header field apk writes, the raw header layout of
// apk_tar_fill_header, and that two writes give the same bytes.
func TestWriteScriptsArchive(t *testing.T) {
	var b bytes.Buffer
	if err := apk.WriteScriptsArchive(&b, scriptedPackages()); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := apk.WriteScriptsArchive(&again, scriptedPackages()); err != nil || !bytes.Equal(again.Bytes(), b.Bytes()) {
		t.Errorf("WriteScriptsArchive twice gave different bytes (%v)", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if h := zr.Header; h.Name != "" || !h.ModTime.IsZero() || h.OS != 3 {
		t.Errorf("gzip header = name %q, mtime %v, OS %d; want no name, no mtime, OS 3 (Unix)", h.Name, h.ModTime, h.OS)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw)%512 != 0 || !bytes.Equal(raw[len(raw)-1024:], make([]byte, 1024)) {
		t.Errorf("tar stream of %d bytes does not end in two zero blocks", len(raw))
	}
	// The first header, byte by byte where apk's layout differs from Go's.
	for _, f := range []struct {
		what     string
		from, to int
		want     string
	}{
		{"mode", 100, 108, "0000755\x00"},
		{"uid", 108, 116, "0000000\x00"},
		{"size", 124, 136, "000000000000"},
		{"mtime", 136, 148, "014524770400"}, // 1700000000
		{"checksum end", 154, 156, "\x00 "},
		{"typeflag", 156, 157, "0"},
		{"magic", 257, 265, "ustar  \x00"},
		{"uname", 265, 270, "root\x00"},
	} {
		if got := string(raw[f.from:f.to]); got != f.want {
			t.Errorf("first header %s = %q, want %q", f.what, got, f.want)
		}
	}
	want := wantScriptEntries()
	tr := tar.NewReader(bytes.NewReader(raw))
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if i != len(want) {
				t.Errorf("archive has %d entries, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Errorf("extra entry %s", hdr.Name)
			continue
		}
		w := want[i]
		got := scriptEntry{hdr.Name, string(body), hdr.ModTime.Unix()}
		if got != w || hdr.Typeflag != tar.TypeReg || hdr.Mode != 0o755 || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "root" || hdr.Gname != "root" {
			t.Errorf("entry %d = %+v, type %c, mode %o, %d:%d %s:%s; want %+v, a regular file, 0755, 0:0 root:root",
				i, got, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname, w)
		}
	}
}

// TestWriteScriptsArchiveGNUTar has GNU tar, which nobody here wrote, list
// the archive.
func TestWriteScriptsArchiveGNUTar(t *testing.T) {
	tarTool := testenv.Tool(t, "tar")
	var b bytes.Buffer
	if err := apk.WriteScriptsArchive(&b, scriptedPackages()); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tarTool, "--numeric-owner", "-tvzf", "-")
	cmd.Env = append(cmd.Environ(), "TZ=UTC", "LC_ALL=C")
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tvzf: %v\n%s", err, out)
	}
	var want []string
	for _, e := range wantScriptEntries() {
		want = append(want, strings.Join(strings.Fields(
			"-rwxr-xr-x 0/0 "+strconv.Itoa(len(e.body))+" "+time.Unix(e.mtime, 0).UTC().Format("2006-01-02 15:04")+" "+e.name), " "))
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tar -tvzf =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestScriptsArchiveRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := apk.WriteScriptsArchive(&b, scriptedPackages()); err != nil {
		t.Fatal(err)
	}
	pkgs := scriptedPackages()
	for _, ip := range pkgs {
		ip.Scripts = nil
	}
	if err := apk.ReadScriptsArchive(bytes.NewReader(b.Bytes()), pkgs); err != nil {
		t.Fatal(err)
	}
	for i, want := range scriptedPackages() {
		if got := pkgs[i].Scripts; !reflect.DeepEqual(got, want.Scripts) {
			t.Errorf("ReadScriptsArchive: %s scripts = %q, want %q", pkgs[i], got, want.Scripts)
		}
	}
}

// TestReadScriptsArchiveForms: apk 2's plain scripts.tar named entries
// with the Q1 checksum, whose base64 may hold a "/"; entries for packages
// not installed and names apk does not know are ignored.
func TestReadScriptsArchiveForms(t *testing.T) {
	slashSum, _ := hex.DecodeString("fbff" + strings.Repeat("00", 18)) // base64 "+/8AAA..."
	q := apk.FormatChecksum(slashSum)
	if !strings.Contains(q, "/") {
		t.Fatalf("test checksum %s has no slash", q)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range []struct{ name, body string }{
		{"foo-1." + q + ".post-install", "echo post\n"},
		{"foo-1." + q + ".install", "unknown script\n"},
		{"bar-1." + apk.FormatChecksum(sumB) + ".trigger", "not installed\n"},
		{"junk", "no dots\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o755, Size: int64(len(e.body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	pkgs := []*apk.InstalledPackage{{Package: &apk.Package{Name: "foo", Version: "1", Checksum: slashSum}}}
	if err := apk.ReadScriptsArchive(&b, pkgs); err != nil {
		t.Fatal(err)
	}
	if want := map[string][]byte{".post-install": []byte("echo post\n")}; !reflect.DeepEqual(pkgs[0].Scripts, want) {
		t.Errorf("ReadScriptsArchive(plain tar) = %q, want %q", pkgs[0].Scripts, want)
	}
}

func TestWriteScriptsArchiveRefuses(t *testing.T) {
	pkgs := scriptedPackages()
	pkgs[2].Scripts[".install"] = []byte("x")
	var b bytes.Buffer
	err := apk.WriteScriptsArchive(&b, pkgs)
	if err == nil || err.Error() != `writing scripts archive: package busybox-1.37.0-r30: unknown script ".install"` || b.Len() != 0 {
		t.Errorf("WriteScriptsArchive(script .install) = %d bytes, %v; want nothing written and an error naming the package", b.Len(), err)
	}
}

// FuzzReadTriggers: a triggers file either fails with a triggers:N line
// error or, written again for the packages it matched, reads back to the
// same globs.
func FuzzReadTriggers(f *testing.F) {
	f.Add("Q1qqqqqqqqqqqqqqqqqqqqqqqqqqo= /bin /usr/bin /lib/modules/*\n" + qB + " /usr/share/x/*\n")
	f.Add("X1" + strings.Repeat("bb", 20) + " /x\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		pkgs := scriptedPackages()
		for _, ip := range pkgs {
			ip.Triggers = nil
		}
		if err := apk.ReadTriggers(strings.NewReader(s), pkgs); err != nil {
			var ie *apk.IndexError
			if !errors.As(err, &ie) || ie.File != "triggers" {
				t.Fatalf("ReadTriggers error %v is not a triggers *IndexError", err)
			}
			return
		}
		var b bytes.Buffer
		if err := apk.WriteTriggers(&b, pkgs); err != nil {
			t.Fatalf("WriteTriggers after ReadTriggers(%q): %v", s, err)
		}
		again := scriptedPackages()
		for _, ip := range again {
			ip.Triggers = nil
		}
		if err := apk.ReadTriggers(&b, again); err != nil {
			t.Fatal(err)
		}
		for i := range pkgs {
			if !reflect.DeepEqual(pkgs[i].Triggers, again[i].Triggers) {
				t.Fatalf("package %s: triggers %q read back as %q", pkgs[i], pkgs[i].Triggers, again[i].Triggers)
			}
		}
	})
}

// FuzzReadScriptsArchive: whatever the archive, ReadScriptsArchive returns
// or fails with an error naming the scripts archive, and attaches only
// scripts apk knows.
func FuzzReadScriptsArchive(f *testing.F) {
	var b bytes.Buffer
	if err := apk.WriteScriptsArchive(&b, scriptedPackages()); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(gunzip(f, b.Bytes()))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs := scriptedPackages()
		for _, ip := range pkgs {
			ip.Scripts = nil
		}
		if err := apk.ReadScriptsArchive(bytes.NewReader(data), pkgs); err != nil {
			if !strings.HasPrefix(err.Error(), "reading scripts archive") {
				t.Fatalf("error %q does not name the scripts archive", err)
			}
			return
		}
		for _, ip := range pkgs {
			for name := range ip.Scripts {
				switch name {
				case ".pre-install", ".post-install", ".pre-deinstall", ".post-deinstall", ".pre-upgrade", ".post-upgrade", ".trigger":
				default:
					t.Fatalf("package %s got script %q", ip, name)
				}
			}
		}
	})
}

func TestWriteWorld(t *testing.T) {
	atoms := func(s string) []apk.Dependency {
		t.Helper()
		deps, err := apk.ParseDependencies(s)
		if err != nil {
			t.Fatal(err)
		}
		return deps
	}
	for _, tc := range []struct{ in, want string }{
		{"busybox alpine-baselayout apk-tools libc-utils alpine-keys", "alpine-baselayout\nalpine-keys\napk-tools\nbusybox\nlibc-utils\n"},
		{"zlib Xorg-x b !bad curl@edge>=8 a><Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "a><Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nb\n!bad\ncurl@edge>=8\nXorg-x\nzlib\n"},
		{"", "\n"},
	} {
		var b bytes.Buffer
		if err := apk.WriteWorld(&b, atoms(tc.in)); err != nil || b.String() != tc.want {
			t.Errorf("WriteWorld(%s) = %q, %v; want %q", tc.in, b.String(), err, tc.want)
		}
	}
	for _, bad := range [][]apk.Dependency{
		atoms("a b a>1"),
		{{Name: "a b"}},
		{{Name: "a", Op: apk.OpEqual}},
		{{Name: "a", Tag: "x y"}},
	} {
		var b bytes.Buffer
		if err := apk.WriteWorld(&b, bad); err == nil || !strings.HasPrefix(err.Error(), "writing world: ") || b.Len() != 0 {
			t.Errorf("WriteWorld(%v) = %q, %v; want nothing written and an error", bad, b.String(), err)
		}
	}
}
