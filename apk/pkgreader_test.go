package apk_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// realPackages are the real packages in shared/testdata/packages with the
// index record that vouches for each: the 3.23 ones from the (unsigned)
// v3.23 subset index, baselayout from its C: in the v3.17 aarch64 mirror.
type realPackage struct {
	file, arch string
	entries    int
	sigs       []string // signature key names, in file order
	scripts    []string
	dataStart  int // offset of the data member
}

var realPackages = []realPackage{
	{"ca-certificates-bundle-20251003-r0.apk", "x86_64", 8,
		[]string{"builder-695bb8bd.rsa.pub", "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"}, nil, 1969},
	{"busybox-binsh-1.37.0-r30.apk", "x86_64", 2,
		[]string{"alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"}, nil, 1282},
	{"alpine-baselayout-3.2.0-r23.aarch64.apk", "aarch64", 83,
		[]string{"alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"},
		[]string{".post-install", ".post-upgrade", ".pre-install", ".pre-upgrade"}, 2229},
}

func realRecord(t *testing.T, file string) *apk.Package {
	t.Helper()
	if strings.HasPrefix(file, "alpine-baselayout-3.2.0-r23") {
		sum, _ := base64.StdEncoding.DecodeString("LLq2qDNrS/qRnhxQ3hsY/sHbQnc=")
		return &apk.Package{Name: "alpine-baselayout", Version: "3.2.0-r23", Arch: "aarch64", Checksum: sum, Size: 11012}
	}
	const src = "v3.23-x86_64-subset-unsigned.APKINDEX.tar.gz"
	idx, err := apk.ReadIndexArchive(bytes.NewReader(readShared(t, "indexes", src)), apk.NewKeyRing(), apk.IndexOptions{Source: src, AllowUntrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range idx.Packages {
		if p.Name+"-"+p.Version+".apk" == file {
			return p
		}
	}
	t.Fatalf("%s is not in %s", file, src)
	return nil
}

func TestPackageReaderReal(t *testing.T) {
	for _, rp := range realPackages {
		t.Run(rp.file, func(t *testing.T) {
			data := readShared(t, "packages", rp.file)
			want := realRecord(t, rp.file)
			p, err := apk.NewPackageReader(bytes.NewReader(data), want)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for {
				hdr, err := p.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, hdr.Name)
				if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeSymlink {
					if len(hdr.PAXRecords[apk.PAXChecksumSHA1]) != 40 {
						t.Errorf("%s: PAX records %v lack the checksum", hdr.Name, hdr.PAXRecords)
					}
				}
				if rp.file == "busybox-binsh-1.37.0-r30.apk" && hdr.Name == "bin/sh" && (hdr.Typeflag != tar.TypeSymlink || hdr.Linkname != "/bin/busybox") {
					t.Errorf("bin/sh = type %c -> %q, want a symlink to /bin/busybox", hdr.Typeflag, hdr.Linkname)
				}
			}
			info := p.Info()
			var sigs []string
			for _, s := range info.Signatures {
				sigs = append(sigs, strings.SplitN(s, ".", 4)[3])
			}
			if len(names) != rp.entries || !slices.Equal(sigs, rp.sigs) || !slices.Equal(slices.Sorted(maps.Keys(info.Scripts)), rp.scripts) {
				t.Errorf("read %d entries, signatures %q, scripts %q; want %d, %q, %q",
					len(names), sigs, slices.Sorted(maps.Keys(info.Scripts)), rp.entries, rp.sigs, rp.scripts)
			}
			if info.Name != want.Name || info.Version != want.Version || info.Arch != want.Arch && info.Arch != "noarch" ||
				info.Size != int64(len(data)) || !bytes.Equal(info.Checksum, want.Checksum) || len(info.DataHash) != 32 {
				t.Errorf("Info() = %s-%s %s, %d bytes, C %x, datahash %x; want %s-%s, %d bytes, C %x",
					info.Name, info.Version, info.Arch, info.Size, info.Checksum, info.DataHash, want.Name, want.Version, len(data), want.Checksum)
			}
			signer, err := p.VerifySignature(alpineKeys(t, rp.arch))
			if err != nil || signer != rp.sigs[len(rp.sigs)-1] {
				t.Errorf("VerifySignature = %q, %v; want %q", signer, err, rp.sigs[len(rp.sigs)-1])
			}
			if _, err := p.VerifySignature(apk.NewKeyRing()); err == nil || !strings.Contains(err.Error(), "signed by unknown key") {
				t.Errorf("VerifySignature(no keys) = %v, want unknown key", err)
			}
		})
	}
}

// TestPackageReaderFlippedByte flips bytes in every member of the real
// packages and checks that reading them against
// their index record fails, naming the package. The only bytes that may
// change unnoticed are gzip header fields of the signature members (mtime,
// extra flags, OS) that nothing covers: a package from an index is trusted
// through C:, which does not cover its signatures, as in apk-tools.
func TestPackageReaderFlippedByte(t *testing.T) {
	for _, rp := range realPackages {
		data := readShared(t, "packages", rp.file)
		want := realRecord(t, rp.file)
		unchecked := map[int]bool{}
		for _, start := range signatureMemberOffsets(t, data) {
			for off := start + 4; off < start+10; off++ {
				unchecked[off] = true
			}
		}
		// Every byte of the signature and control members, 300 of the
		// data member and its last 20 (gzip trailer, end of deflate).
		var offsets []int
		for off := range rp.dataStart {
			offsets = append(offsets, off)
		}
		for i := range 300 {
			offsets = append(offsets, rp.dataStart+i*(len(data)-rp.dataStart)/300)
		}
		for off := len(data) - 20; off < len(data); off++ {
			offsets = append(offsets, off)
		}
		prefix := "reading package " + want.Name + "-" + want.Version + ": "
		var missed []int
		for _, off := range offsets {
			b := bytes.Clone(data)
			b[off] ^= 0xff
			_, err := apk.VerifyPackage(bytes.NewReader(b), want)
			switch {
			case err == nil && !unchecked[off]:
				missed = append(missed, off)
			case err != nil && !strings.HasPrefix(err.Error(), prefix):
				t.Errorf("%s: byte %d flipped: error %q does not start with %q", rp.file, off, err, prefix)
			}
		}
		if len(missed) > 0 {
			t.Errorf("%s: flipping bytes %v went unnoticed", rp.file, missed)
		}
	}
}

// signatureMemberOffsets returns where the signature members start, found
// by the sizes the reader does not tell: each real signature member is
// followed by the next gzip magic.
func signatureMemberOffsets(t *testing.T, data []byte) []int {
	t.Helper()
	offsets := []int{0}
	switch len(data) {
	case 131799: // ca-certificates-bundle: two signature members
		offsets = append(offsets, 643)
	}
	for _, o := range offsets {
		if !bytes.HasPrefix(data[o:], []byte{0x1f, 0x8b, 8}) {
			t.Fatalf("no gzip member at %d", o)
		}
	}
	return offsets
}

// pkgTestKey signs every test package and repository of this package;
// making an RSA key takes a while.
var pkgTestKey = sync.OnceValues(func() (*apktest.Key, error) { return apktest.NewKey("apk-test") })

func pkgKey(t testing.TB) *apktest.Key {
	t.Helper()
	k, err := pkgTestKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func buildPkg(t testing.TB, p apktest.Pkg) ([]byte, *apk.Package) {
	t.Helper()
	data, rec, err := apktest.BuildPackage(p, pkgKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return data, rec
}

// readEntries reads every entry with its content through r.
func readEntries(r *apk.PackageReader) (map[string]string, error) {
	got := map[string]string{}
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		body, err := io.ReadAll(r)
		if err != nil {
			return got, err
		}
		got[hdr.Name] = fmt.Sprintf("%c %o %s:%s %q -> %q %v", hdr.Typeflag, hdr.Mode, hdr.Uname, hdr.Gname, body, hdr.Linkname, hdr.Xattrs) //nolint:staticcheck // Xattrs is what the unpacker reads
	}
}

func TestPackageReaderRoundTrip(t *testing.T) {
	prio := 10
	data, rec := buildPkg(t, apktest.Pkg{
		Name: "demo", Version: "1.2.3-r4", Origin: "demo-src", Description: "a  demo ", License: "MIT",
		Depends: []string{"so:libc.musl-x86_64.so.1", "!conflict"}, Provides: []string{"cmd:demo=1.2.3-r4"},
		InstallIf: []string{"demo-base", "openrc"}, Replaces: []string{"old-demo"}, ProviderPriority: &prio,
		Triggers: []string{"/usr/lib/demo/*", "/etc/demo.d"},
		Scripts:  map[string]string{"post-install": "#!/bin/sh\necho hi\n", "trigger": "#!/bin/sh\n"},
		Files: []apktest.File{
			{Name: "usr/bin/demo", Mode: 0o755 | fs.ModeSetuid, Data: []byte("#!/bin/sh\n"), Xattrs: map[string][]byte{"security.capability": {1, 2}}},
			{Name: "usr/bin/demo-alias", Hardlink: "usr/bin/demo"},
			{Name: "usr/bin/d", Linkname: "demo"},
			{Name: "var/lib/demo/", Mode: fs.ModeDir | 0o700, Uname: "demo", Gname: "demo"},
			{Name: "etc/demo.conf", Data: bytes.Repeat([]byte("0123456789"), 100000)},
		},
	})
	r, err := apk.NewPackageReader(bytes.NewReader(data), rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readEntries(r)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"etc/":               `5 755 root:root "" -> "" map[]`,
		"etc/demo.conf":      fmt.Sprintf(`0 644 root:root %q -> "" map[]`, bytes.Repeat([]byte("0123456789"), 100000)),
		"usr/":               `5 755 root:root "" -> "" map[]`,
		"usr/bin/":           `5 755 root:root "" -> "" map[]`,
		"usr/bin/d":          `2 777 root:root "" -> "demo" map[]`,
		"usr/bin/demo":       `0 4755 root:root "#!/bin/sh\n" -> "" map[security.capability:` + "\x01\x02" + `]`,
		"usr/bin/demo-alias": `1 4755 root:root "" -> "usr/bin/demo" map[]`, // the inode's mode, as tar writes it
		"var/":               `5 755 root:root "" -> "" map[]`,
		"var/lib/":           `5 755 root:root "" -> "" map[]`,
		"var/lib/demo/":      `5 700 demo:demo "" -> "" map[]`,
	}
	for name := range maps.Keys(want) {
		if got[name] != want[name] {
			t.Errorf("entry %s = %.80s, want %.80s", name, got[name], want[name])
		}
	}
	if len(got) != len(want) {
		t.Errorf("read %d entries, want %d", len(got), len(want))
	}
	info := r.Info()
	if fmt.Sprint(info.Depends, info.Provides, info.InstallIf, info.Replaces) != fmt.Sprint(rec.Depends, rec.Provides, rec.InstallIf, rec.Replaces) ||
		info.Description != "a  demo " || info.Origin != "demo-src" || info.ProviderPriority != 10 || !info.HasProviderPriority ||
		info.InstalledSize != 1000010 || info.Size != rec.Size || !slices.Equal(info.Triggers, []string{"/usr/lib/demo/*", "/etc/demo.d"}) ||
		string(info.Scripts[".post-install"]) != "#!/bin/sh\necho hi\n" || len(info.Scripts) != 2 {
		t.Errorf("Info() = %+v,\nwant the fields of %+v", info, rec)
	}
	signer, err := r.VerifySignature(pkgKey(t).KeyRing())
	if err != nil || signer != "apk-test.rsa.pub" {
		t.Errorf("VerifySignature = %q, %v; want apk-test.rsa.pub", signer, err)
	}
}

// TestPackageReaderRefuses builds packages with one fault each and checks
// that reading them fails with an error naming the package and the entry.
func TestPackageReaderRefuses(t *testing.T) {
	file := apktest.File{Name: "etc/ok", Data: []byte("ok")}
	zeros := strings.Repeat("0", 40)
	tests := []struct {
		name    string
		files   []apktest.File
		faults  apktest.Faults
		edit    func(*apk.Package)
		wantErr string
	}{
		{"absolute path", []apktest.File{file, {Name: "/etc/passwd", Data: []byte("x")}}, apktest.Faults{}, nil,
			`data entry "/etc/passwd": absolute path "/etc/passwd"`},
		{"dot-dot path", []apktest.File{{Name: "../escape", Data: []byte("x")}}, apktest.Faults{}, nil,
			`data entry "../escape": path "../escape" leaves the root through ".."`},
		{"inner dot-dot", []apktest.File{{Name: "a/../../escape", Data: []byte("x")}}, apktest.Faults{}, nil,
			`leaves the root through ".."`},
		{"unclean path", []apktest.File{{Name: "a//b", Data: []byte("x")}}, apktest.Faults{}, nil,
			`data entry "a//b": path "a//b" is not clean`},
		{"hard link out", []apktest.File{{Name: "a", Hardlink: "../etc/shadow"}}, apktest.Faults{}, nil,
			`data entry "a": hard link target: path "../etc/shadow" leaves the root`},
		{"hard link to nothing", []apktest.File{{Name: "a", Hardlink: "b"}}, apktest.Faults{}, nil,
			`data entry "a": hard link to "b", which is not an earlier regular file`},
		{"hard link to a replaced file", []apktest.File{{Name: "a", Data: []byte("x")}, {Name: "a", Linkname: "/etc/shadow"}, {Name: "b", Hardlink: "a"}},
			apktest.Faults{}, nil, `data entry "b": hard link to "a", which is not an earlier regular file`},
		{"file checksum", []apktest.File{file, {Name: "etc/bad", Data: []byte("bad"), Checksum: zeros}}, apktest.Faults{}, nil,
			"data entry \"etc/bad\": checksum mismatch: header says " + zeros + ", content has "},
		{"symlink checksum", []apktest.File{{Name: "bin/sh", Linkname: "/bin/busybox", Checksum: zeros}}, apktest.Faults{}, nil,
			`data entry "bin/sh": checksum mismatch: header says ` + zeros + `, link target "/bin/busybox" has `},
		{"malformed checksum", []apktest.File{{Name: "x", Data: []byte("x"), Checksum: "xyz"}}, apktest.Faults{}, nil,
			`data entry "x": malformed APK-TOOLS.checksum.SHA1 record "xyz"`},
		{"datahash", []apktest.File{file}, apktest.Faults{WrongDataHash: true}, nil,
			"data member has SHA-256 "},
		{"no datahash", []apktest.File{file}, apktest.Faults{NoDataHash: true}, nil,
			".PKGINFO has no datahash, so the data cannot be verified"},
		{"index checksum", []apktest.File{file}, apktest.Faults{}, func(p *apk.Package) { p.Checksum[0] ^= 1 },
			"control member has checksum Q1"},
		{"index size", []apktest.File{file}, apktest.Faults{}, func(p *apk.Package) { p.Size++ },
			"package has "},
		{"no checksum in the index", []apktest.File{file}, apktest.Faults{}, func(p *apk.Package) { p.Checksum = nil },
			"the index record has no checksum to verify it with"},
	}
	for _, tt := range tests {
		data, rec := buildPkg(t, apktest.Pkg{Name: "bad", Version: "1-r0", Files: tt.files, Faults: tt.faults})
		if tt.edit != nil {
			tt.edit(rec)
		}
		// Read each entry's content fully (checked at Read's end) and
		// also skip it (checked by Next): both must catch the fault.
		for _, mode := range []string{"read", "skip"} {
			var err error
			r, err := apk.NewPackageReader(bytes.NewReader(data), rec)
			if err == nil {
				if mode == "read" {
					_, err = readEntries(r)
				} else {
					_, err = apk.VerifyPackage(bytes.NewReader(data), rec)
				}
			}
			if err == nil || !strings.HasPrefix(err.Error(), "reading package bad-1-r0: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s (%s): error = %v, want reading package bad-1-r0: ...%s...", tt.name, mode, err, tt.wantErr)
			}
		}
	}
}

// TestPackageReaderPartialRead reads part of a file whose checksum is wrong
// and moves on: Next must still catch it.
func TestPackageReaderPartialRead(t *testing.T) {
	data, rec := buildPkg(t, apktest.Pkg{Name: "p", Version: "1-r0", Files: []apktest.File{
		{Name: "a", Data: bytes.Repeat([]byte("a"), 10000), Checksum: strings.Repeat("1", 40)},
		{Name: "b", Data: []byte("b")},
	}})
	r, err := apk.NewPackageReader(bytes.NewReader(data), rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	if err == nil || !strings.Contains(err.Error(), "data entry \"a\": checksum mismatch") {
		t.Errorf("Next after a partial read = %v, want a checksum mismatch for a", err)
	}
	if _, err2 := r.Next(); err2 != err {
		t.Errorf("Next after a failure = %v, want the same error again", err2)
	}
}

// TestPackageReaderTruncated cuts a package at every length and appends
// junk to it: every such stream must be refused.
func TestPackageReaderTruncated(t *testing.T) {
	data, rec := buildPkg(t, apktest.Pkg{Name: "t", Version: "1-r0", Scripts: map[string]string{"pre-install": "true\n"},
		Files: []apktest.File{{Name: "bin/sh", Linkname: "/bin/busybox"}, {Name: "etc/motd", Data: []byte("hi\n")}}})
	if _, err := apk.VerifyPackage(bytes.NewReader(data), rec); err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, err := apk.VerifyPackage(bytes.NewReader(data[:n]), rec); err == nil {
			t.Errorf("VerifyPackage(first %d of %d bytes) succeeded", n, len(data))
		}
		// Without an index record only the data is checked end to end.
		if _, err := apk.VerifyPackage(bytes.NewReader(data[:n]), nil); err == nil {
			t.Errorf("VerifyPackage(first %d of %d bytes, no record) succeeded", n, len(data))
		}
	}
	for _, junk := range [][]byte{{0}, []byte("junk"), data} {
		if _, err := apk.VerifyPackage(bytes.NewReader(append(bytes.Clone(data), junk...)), nil); err == nil {
			t.Errorf("VerifyPackage(package + %d bytes of junk) succeeded", len(junk))
		}
	}
	_, err := apk.VerifyPackage(bytes.NewReader(data[:len(data)-3]), rec)
	if want := "reading package t-1-r0: "; err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("VerifyPackage(truncated) = %v, want %s... unexpected EOF", err, want)
	}
}

func TestPackageSignatures(t *testing.T) {
	other, err := apktest.NewKey("apk-test") // same name, other key
	if err != nil {
		t.Fatal(err)
	}
	p := apktest.Pkg{Name: "s", Version: "1-r0"}
	signed, _ := buildPkg(t, p)
	forged, _, err := apktest.BuildPackage(p, other)
	if err != nil {
		t.Fatal(err)
	}
	unsigned, _, err := apktest.BuildPackage(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		keys    *apk.KeyRing
		wantErr string
	}{
		{"signed", signed, pkgKey(t).KeyRing(), ""},
		{"forged", forged, pkgKey(t).KeyRing(), `verifying package s-1-r0: signature by key "apk-test.rsa.pub" does not match the signed data`},
		{"unknown", signed, apk.NewKeyRing(), `verifying package s-1-r0: signed by unknown key "apk-test.rsa.pub" (trusted: none)`},
		{"unsigned", unsigned, pkgKey(t).KeyRing(), "verifying package s-1-r0: not signed"},
	}
	for _, tt := range tests {
		r, err := apk.NewPackageReader(bytes.NewReader(tt.data), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.VerifySignature(tt.keys)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
			t.Errorf("%s: VerifySignature = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// BenchmarkVerifyPackage reads and verifies an 8 MiB package (per-file
// SHA-1, inflate, SHA-256 of the data member); SetBytes is the .apk size.
func BenchmarkVerifyPackage(b *testing.B) {
	var files []apktest.File
	seed := uint64(1)
	for i := range 64 {
		data := make([]byte, 128<<10)
		for j := range data {
			seed = seed*6364136223846793005 + 1442695040888963407
			data[j] = "abcdefghijklmnop\n"[seed>>60] // compresses about 2:1, like binaries
		}
		files = append(files, apktest.File{Name: fmt.Sprintf("usr/lib/f%02d", i), Data: data})
	}
	data, rec := buildPkg(b, apktest.Pkg{Name: "big", Version: "1-r0", Files: files})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apk.VerifyPackage(bytes.NewReader(data), rec); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPackageReaderControlLimit checks that a control member inflating past
// MaxControlSize is refused rather than read into memory.
func TestPackageReaderControlLimit(t *testing.T) {
	data, rec := buildPkg(t, apktest.Pkg{Name: "huge", Version: "1-r0",
		Scripts: map[string]string{"post-install": strings.Repeat("#", apk.MaxControlSize)}})
	_, err := apk.VerifyPackage(bytes.NewReader(data), rec)
	if want := "reading package huge-1-r0: gzip member 2 at byte "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "control member is larger than its limit") {
		t.Errorf("VerifyPackage(17 MiB of scripts) = %v, want %s...control member is larger than its limit", err, want)
	}
}

// TestPackageReaderRefusesSparse reads packages with a PAX (GNU 1.0)
// sparse entry: a map block that makes a file of holes of any size. apk
// never writes sparse files, and a reader that expanded them would hand out
// (or, for .PKGINFO, read into memory) far more bytes than the member holds
// before its checksum could be checked.
func TestPackageReaderRefusesSparse(t *testing.T) {
	sparseData := append(sparseEntry("usr/share/big", 1<<30), make([]byte, 1024)...)
	dataMember := gzipBytes(t, sparseData)
	sum := sha256.Sum256(dataMember)
	pkginfo := fmt.Sprintf("pkgname = sparse\npkgver = 1-r0\ndatahash = %x\n", sum)
	var control bytes.Buffer
	tw := tar.NewWriter(&control)
	if err := tw.WriteHeader(&tar.Header{Name: ".PKGINFO", Mode: 0o644, Size: int64(len(pkginfo)), Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(pkginfo))
	tw.Flush() // no end-of-archive blocks, as abuild-tar --cut
	tests := []struct {
		name    string
		pkg     []byte
		wantErr string
	}{
		{"data", append(gzipBytes(t, control.Bytes()), dataMember...),
			"reading package sparse-1-r0: data entry \"usr/share/big\": sparse file"},
		{".PKGINFO", append(gzipBytes(t, sparseEntry(".PKGINFO", 64<<20)), dataMember...),
			"reading package: gzip member 1 at byte 0: .PKGINFO is a sparse file"},
		{"script", append(gzipBytes(t, append(bytes.Clone(control.Bytes()), sparseEntry(".post-install", 64<<20)...)), dataMember...),
			`reading package: gzip member 1 at byte 0: ".post-install" is a sparse file`},
	}
	for _, tt := range tests {
		_, err := apk.VerifyPackage(bytes.NewReader(tt.pkg), nil)
		if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("VerifyPackage(sparse %s) = %.200v, want %s...", tt.name, err, tt.wantErr)
		}
	}
}

// sparseEntry returns a PAX header and a regular entry whose content is a
// GNU 1.0 sparse map: name, size bytes, all holes.
func sparseEntry(name string, size int64) []byte {
	block := func(name string, typ byte, size int) []byte {
		b := make([]byte, 512)
		copy(b[0:], name)
		copy(b[100:], "0000644\x00")
		copy(b[108:], "0000000\x00")
		copy(b[116:], "0000000\x00")
		copy(b[124:], fmt.Sprintf("%011o\x00", size))
		copy(b[136:], fmt.Sprintf("%011o\x00", 0))
		b[156] = typ
		copy(b[257:], "ustar\x0000")
		copy(b[148:], "        ")
		sum := 0
		for _, c := range b {
			sum += int(c)
		}
		copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
		return b
	}
	pad := func(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }
	var records []byte
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", name}, {"GNU.sparse.realsize", fmt.Sprint(size)}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		records = append(records, fmt.Sprintf("%d%s", len(rec)+2, rec)...) // two digits of length
	}
	var b []byte
	b = append(b, block("PaxHeaders/sparse", 'x', len(records))...)
	b = append(b, pad(records)...)
	b = append(b, block("GNUSparseFile.0/sparse", '0', 512)...)
	return append(b, pad([]byte("1\n0\n0\n"))...)
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
