package apktest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// The layout analysis below uses the standard library's gzip and a raw walk
// over 512-byte tar blocks, not the apk package's reader, so that it judges
// BuildPackage independently.

type memberLayout struct {
	Kind      string   // signature, control, data
	Gzip      string   // header bytes 2..9: method, flags, mtime, xfl, os
	Entries   []string // "<typeflag> <name> pax:<sorted record names>"
	EOFBlocks bool     // the member's tar ends with end-of-archive blocks
	PkgInfo   []string // .PKGINFO keys in order (control member only)
}

type pkgLayout struct {
	Members  []memberLayout
	Control  []byte // SHA-1 of the control member
	DataHash []byte // SHA-256 of the data member
	Declared []byte // the datahash .PKGINFO declares
}

func analyze(t *testing.T, apkData []byte) pkgLayout {
	t.Helper()
	var l pkgLayout
	br := bytes.NewReader(apkData)
	for br.Len() > 0 {
		start := len(apkData) - br.Len()
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatalf("gzip member at %d: %v", start, err)
		}
		zr.Multistream(false)
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gzip member at %d: %v", start, err)
		}
		member := apkData[start : len(apkData)-br.Len()]
		m := memberLayout{Gzip: hex.EncodeToString(member[2:10])}
		entries, eof, pkginfo := walkTar(t, raw)
		m.Entries, m.EOFBlocks = entries, eof
		switch first := strings.Fields(entries[0])[1]; {
		case strings.HasPrefix(first, ".SIGN."):
			m.Kind = "signature"
		case first == ".PKGINFO":
			m.Kind = "control"
			s := sha1.Sum(member)
			l.Control = s[:]
			for _, line := range strings.Split(string(pkginfo), "\n") {
				if k, v, ok := strings.Cut(line, " = "); ok && !strings.HasPrefix(line, "#") {
					m.PkgInfo = append(m.PkgInfo, k)
					if k == "datahash" {
						l.Declared, _ = hex.DecodeString(v)
					}
				}
			}
		default:
			m.Kind = "data"
			s := sha256.Sum256(member)
			l.DataHash = s[:]
		}
		l.Members = append(l.Members, m)
	}
	return l
}

// walkTar lists the entries of a raw tar stream with their PAX record
// names, tells whether it ends with end-of-archive (zero) blocks and
// returns the .PKGINFO content.
func walkTar(t *testing.T, raw []byte) (entries []string, eofBlocks bool, pkginfo []byte) {
	t.Helper()
	var pax []string
	for pos := 0; pos < len(raw); {
		if pos+512 > len(raw) {
			t.Fatalf("tar ends in a partial block at %d", pos)
		}
		h := raw[pos : pos+512]
		if bytes.Equal(h, make([]byte, 512)) {
			for _, c := range raw[pos:] {
				if c != 0 {
					t.Fatalf("data after the end-of-archive blocks at %d", pos)
				}
			}
			return entries, len(raw)-pos >= 1024, pkginfo
		}
		name := string(bytes.TrimRight(h[:100], "\x00"))
		var size int64
		fmt.Sscanf(strings.Trim(string(h[124:136]), "\x00 "), "%o", &size)
		body := raw[pos+512 : pos+512+int(size)]
		switch typ := h[156]; typ {
		case 'x':
			for _, rec := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
				_, kv, _ := strings.Cut(rec, " ")
				k, _, _ := strings.Cut(kv, "=")
				pax = append(pax, k)
			}
		default:
			sort.Strings(pax)
			entries = append(entries, fmt.Sprintf("%c %s pax:%s", typ, name, strings.Join(pax, ",")))
			pax = nil
			if name == ".PKGINFO" {
				pkginfo = body
			}
		}
		pos += 512 + int((size+511)/512*512)
	}
	return entries, false, pkginfo
}

var testKey = sync.OnceValues(func() (*Key, error) { return NewKey("") })

func key(t *testing.T) *Key {
	t.Helper()
	k, err := testKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func priority(n int) *int { return &n }

// TestLayoutMatchesAbuild builds busybox-binsh 1.37.0-r30 with BuildPackage
// and compares its structure with the real v3.23 package, member by member.
func TestLayoutMatchesAbuild(t *testing.T) {
	real, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "packages", "busybox-binsh-1.37.0-r30.apk"))
	if err != nil {
		t.Fatal(err)
	}
	k := key(t)
	built, rec, err := BuildPackage(Pkg{
		Name: "busybox-binsh", Version: "1.37.0-r30", Arch: "noarch", Origin: "busybox",
		Description: "busybox ash /bin/sh", URL: "https://busybox.net/", License: "GPL-2.0-only",
		Commit: "1e823a60eb85606954b3a5af5f8e5bbd1ea680cf", Maintainer: "Sören Tempel <soeren+alpine@soeren-tempel.net>",
		ProviderPriority: priority(100), Replaces: []string{"busybox-initscripts"},
		Provides: []string{"/bin/sh", "cmd:sh=1.37.0-r30"}, Depends: []string{"busybox=1.37.0-r30"},
		Files:     []File{{Name: "bin/sh", Linkname: "/bin/busybox"}},
		BuildTime: 1765894768,
	}, k)
	if err != nil {
		t.Fatal(err)
	}
	want, got := analyze(t, real), analyze(t, built)
	// The key name differs, nothing else of the structure may.
	realSig := want.Members[0].Entries[0]
	want.Members[0].Entries[0] = strings.Replace(realSig, "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub", k.Name, 1)
	for i := range max(len(want.Members), len(got.Members)) {
		if i >= len(want.Members) || i >= len(got.Members) {
			t.Fatalf("member count = %d, want %d", len(got.Members), len(want.Members))
		}
		w, g := want.Members[i], got.Members[i]
		if !reflect.DeepEqual(g, w) {
			t.Errorf("member %d = %+v,\nwant %+v", i+1, g, w)
		}
	}
	for _, l := range []struct {
		name string
		l    pkgLayout
	}{{"real", want}, {"built", got}} {
		if !bytes.Equal(l.l.DataHash, l.l.Declared) {
			t.Errorf("%s: datahash = %x, data member has %x", l.name, l.l.Declared, l.l.DataHash)
		}
	}
	if !bytes.Equal(got.Control, rec.Checksum) {
		t.Errorf("record checksum = %x, control member has %x", rec.Checksum, got.Control)
	}
	if rec.Size != int64(len(built)) {
		t.Errorf("record size = %d, want %d", rec.Size, len(built))
	}
	// The real package's C: from the v3.23 index.
	if c := fmt.Sprintf("%x", want.Control); c != "188d2d0110afa58e8a3e3e5fd424b2d996df7a09" {
		t.Errorf("real control SHA-1 = %s, want the index's C:Q1GI0tARCvpY6KPj5f1CSy2Zbfegk=", c)
	}
}

// TestLayoutScriptsAndFiles checks the parts busybox-binsh lacks: scripts in
// the control member, regular files, directories, hard links, xattrs.
func TestLayoutScriptsAndFiles(t *testing.T) {
	built, _, err := BuildPackage(Pkg{
		Name: "demo", Version: "1.0-r0",
		Scripts:  map[string]string{"post-install": "#!/bin/sh\n", ".pre-install": "#!/bin/sh\n"},
		Triggers: []string{"/usr/lib/demo/*"},
		Files: []File{
			{Name: "usr/bin/demo", Mode: 0o755, Data: []byte("binary"), Xattrs: map[string][]byte{"security.capability": {1, 0, 0, 2}}},
			{Name: "usr/bin/demo2", Hardlink: "usr/bin/demo"},
			{Name: "etc/demo.conf", Data: []byte("x=1\n")},
		},
	}, key(t))
	if err != nil {
		t.Fatal(err)
	}
	l := analyze(t, built)
	kinds := []string{}
	for _, m := range l.Members {
		kinds = append(kinds, m.Kind)
	}
	if want := []string{"signature", "control", "data"}; !slices.Equal(kinds, want) {
		t.Fatalf("members = %v, want %v", kinds, want)
	}
	tests := []struct {
		member int
		want   []string
		eof    bool
	}{
		{1, []string{"0 .PKGINFO pax:atime,ctime", "0 .post-install pax:atime,ctime", "0 .pre-install pax:atime,ctime"}, false},
		{2, []string{
			"5 etc/ pax:atime,ctime",
			"0 etc/demo.conf pax:APK-TOOLS.checksum.SHA1,atime,ctime",
			"5 usr/ pax:atime,ctime",
			"5 usr/bin/ pax:atime,ctime",
			"0 usr/bin/demo pax:APK-TOOLS.checksum.SHA1,SCHILY.xattr.security.capability,atime,ctime",
			"1 usr/bin/demo2 pax:atime,ctime",
		}, true},
	}
	for _, tt := range tests {
		m := l.Members[tt.member]
		if !slices.Equal(m.Entries, tt.want) || m.EOFBlocks != tt.eof {
			t.Errorf("member %d entries = %q (eof blocks %v),\nwant %q (eof blocks %v)", tt.member+1, m.Entries, m.EOFBlocks, tt.want, tt.eof)
		}
	}
	wantKeys := []string{"pkgname", "pkgver", "builddate", "packager", "size", "arch", "triggers", "datahash"}
	if !slices.Equal(l.Members[1].PkgInfo, wantKeys) {
		t.Errorf(".PKGINFO keys = %q, want %q", l.Members[1].PkgInfo, wantKeys)
	}
}

func TestBuildReproducible(t *testing.T) {
	p := Pkg{Name: "a", Version: "1-r0", Files: []File{{Name: "a/b", Data: []byte("b")}}}
	one, _, err := BuildPackage(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	two, _, err := BuildPackage(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one, two) {
		t.Error("two builds of the same Pkg differ")
	}
}

// TestRepoServes checks that the served and written repository are the
// same bytes and that the index verifies with the repository's key and
// lists the packages with their checksums.
func TestRepoServes(t *testing.T) {
	r := NewRepo(key(t))
	for _, p := range []Pkg{
		{Name: "musl", Version: "1.2.5-r10", Provides: []string{"so:libc.musl-x86_64.so.1=1"}, Files: []File{{Name: "lib/ld-musl-x86_64.so.1", Data: []byte("ld")}}},
		{Name: "busybox", Version: "1.37.0-r30", Depends: []string{"so:libc.musl-x86_64.so.1"}, Files: []File{{Name: "bin/busybox", Mode: 0o755, Data: []byte("bb")}}},
	} {
		if _, err := r.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	dir := t.TempDir()
	if err := r.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	base := r.URL(srv.URL) + "/x86_64/"
	for _, name := range []string{"APKINDEX.tar.gz", "musl-1.2.5-r10.apk", "busybox-1.37.0-r30.apk"} {
		resp, err := http.Get(base + name)
		if err != nil {
			t.Fatal(err)
		}
		served, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %s, %v", name, resp.Status, err)
		}
		written, err := os.ReadFile(filepath.Join(dir, "v3.23", "main", "x86_64", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(served, written) {
			t.Errorf("served %s differs from the written one", name)
		}
		if name != "APKINDEX.tar.gz" {
			continue
		}
		idx, err := apk.ReadIndexArchive(bytes.NewReader(served), r.Key.KeyRing(), apk.IndexOptions{Source: base + name})
		if err != nil {
			t.Fatal(err)
		}
		if len(idx.Packages) != 2 || !idx.Trusted {
			t.Fatalf("index has %d packages, trusted %v; want 2, true", len(idx.Packages), idx.Trusted)
		}
		for i, p := range idx.Packages {
			want := r.Packages[i].Record
			if !bytes.Equal(p.Checksum, want.Checksum) || p.Size != want.Size || p.Name != want.Name {
				t.Errorf("index record %d = %s %x %d, want %s %x %d", i, p.Name, p.Checksum, p.Size, want.Name, want.Checksum, want.Size)
			}
		}
	}
	resp, err := http.Get(base + "nope.apk")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET nope.apk = %s, want 404", resp.Status)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{"v3.23/main/x86_64/APKINDEX.tar.gz", "v3.23/main/x86_64/busybox-1.37.0-r30.apk", "v3.23/main/x86_64/musl-1.2.5-r10.apk"}
	if !slices.Equal(files, want) {
		t.Errorf("WriteDir wrote %q, want %q", files, want)
	}
}
