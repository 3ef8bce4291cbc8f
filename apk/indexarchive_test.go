package apk_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

func readShared(t testing.TB, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{testenv.SharedTestdata(t)}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func alpineKeys(t testing.TB, arch string) *apk.KeyRing {
	t.Helper()
	k, err := apk.AlpineKeys(arch)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The record counts are `grep -c ^P:` of each APKINDEX (the testdata README
// says 4,930 and 5,005, one too many each).
func TestReadIndexArchiveReal(t *testing.T) {
	tests := []struct {
		file, arch  string
		records     int
		description string
		signedBy    string
	}{
		{"alpine-v3.16-main-x86_64.APKINDEX.tar.gz", "x86_64", 4929, "v3.16.3-13-g4d933a1fa3", "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"},
		{"alpine-v3.17-main-aarch64.APKINDEX.tar.gz", "aarch64", 5004, "v3.17.3-216-g54a39ace82a", "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readShared(t, "indexes", tt.file)
			idx, err := apk.ReadIndexArchive(bytes.NewReader(data), alpineKeys(t, tt.arch), apk.IndexOptions{Source: tt.file, Tag: "edge"})
			if err != nil {
				t.Fatal(err)
			}
			if len(idx.Packages) != tt.records || idx.Description != tt.description || !idx.Trusted || idx.SignedBy != tt.signedBy {
				t.Errorf("ReadIndexArchive = %d records, %q, trusted %v by %q; want %d, %q, true by %q",
					len(idx.Packages), idx.Description, idx.Trusted, idx.SignedBy, tt.records, tt.description, tt.signedBy)
			}
			if idx.Source != tt.file || idx.Tag != "edge" {
				t.Errorf("Source, Tag = %q, %q; want %q, edge", idx.Source, idx.Tag, tt.file)
			}
			for _, p := range idx.Packages {
				if p.Repository != idx || p.Arch != tt.arch && p.Arch != "noarch" {
					t.Fatalf("record %s: Repository %p, arch %s; want %p, %s", p.Name, p.Repository, p.Arch, idx, tt.arch)
				}
			}
		})
	}
}

func TestReadIndexArchiveUnsigned(t *testing.T) {
	const src = "v3.23-x86_64-subset-unsigned.APKINDEX.tar.gz"
	data := readShared(t, "indexes", src)
	_, err := apk.ReadIndexArchive(bytes.NewReader(data), alpineKeys(t, "x86_64"), apk.IndexOptions{Source: src})
	if want := "verifying index " + src + ": index is not signed (no .SIGN.* member)"; err == nil || err.Error() != want {
		t.Errorf("ReadIndexArchive(unsigned) error = %v, want %s", err, want)
	}
	idx, err := apk.ReadIndexArchive(bytes.NewReader(data), alpineKeys(t, "x86_64"), apk.IndexOptions{Source: src, AllowUntrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Packages) != 107 || idx.Trusted || idx.SignedBy != "" {
		t.Errorf("ReadIndexArchive(unsigned, AllowUntrusted) = %d records, trusted %v by %q; want 107, false", len(idx.Packages), idx.Trusted, idx.SignedBy)
	}
}

// TestReadIndexArchiveTampered breaks the real v3.16 index in the ways an
// attacker or a broken mirror would, and checks each error names the index
// and the problem.
func TestReadIndexArchiveTampered(t *testing.T) {
	const src = "https://mirror.example/v3.16/main/x86_64/APKINDEX.tar.gz"
	data := readShared(t, "indexes", "alpine-v3.16-main-x86_64.APKINDEX.tar.gz")
	const sigLen = 667 // the signature member's compressed size
	flip := func(off int) []byte {
		b := bytes.Clone(data)
		b[off] ^= 0x55
		return b
	}
	tests := []struct {
		name string
		data []byte
		arch string
		want string // the whole error
	}{
		{"mtime byte of the index member (not covered by gzip's CRC)", flip(sigLen + 5), "x86_64",
			`verifying index ` + src + `: signature by key "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub" does not match the signed data`},
		{"byte in the compressed APKINDEX", flip(len(data) / 2), "x86_64",
			"reading index " + src + ": gzip member 2 at byte 667: "},
		{"last byte (gzip size trailer)", flip(len(data) - 1), "x86_64",
			"reading index " + src + ": "},
		{"signature member removed", data[sigLen:], "x86_64",
			"verifying index " + src + ": index is not signed (no .SIGN.* member)"},
		{"wrong arch's keys", data, "aarch64",
			`verifying index ` + src + `: signed by unknown key "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub" (trusted: alpine-devel@lists.alpinelinux.org-58199dcc.rsa.pub, alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub)`},
		{"truncated", data[:len(data)-1000], "x86_64",
			"reading index " + src + ": gzip member 2 at byte 667: reading APKINDEX: unexpected EOF"},
		{"only the signature", data[:sigLen], "x86_64",
			"reading index " + src + ": stream ends after 667 bytes without the index tar"},
		{"empty", nil, "x86_64",
			"reading index " + src + ": stream ends after 0 bytes without the index tar"},
	}
	for _, tt := range tests {
		_, err := apk.ReadIndexArchive(bytes.NewReader(tt.data), alpineKeys(t, tt.arch), apk.IndexOptions{Source: src})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.HasSuffix(tt.want, ": ") && len(err.Error()) == len(tt.want) {
			t.Errorf("%s: ReadIndexArchive error = %v,\nwant %s...", tt.name, err, tt.want)
		}
	}
	// With AllowUntrusted a bad signature is accepted but not trusted.
	idx, err := apk.ReadIndexArchive(bytes.NewReader(flip(sigLen+5)), alpineKeys(t, "x86_64"), apk.IndexOptions{Source: src, AllowUntrusted: true})
	if err != nil || idx.Trusted || len(idx.Packages) != 4929 {
		t.Errorf("AllowUntrusted on a bad signature = %v; want 4929 untrusted records", err)
	}
}

// splitIndex returns the signature member(s) and the body of an apktest index.
func splitIndex(t *testing.T, r *apktest.Repo) (sig, body []byte) {
	t.Helper()
	signed, err := r.IndexArchive()
	if err != nil {
		t.Fatal(err)
	}
	key := r.Key
	r.Key = nil
	body, err = r.IndexArchive()
	r.Key = key
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(signed, body) {
		t.Fatal("the signed index does not end with the unsigned one")
	}
	return signed[:len(signed)-len(body)], body
}

func TestReadIndexArchiveSignatures(t *testing.T) {
	sha1Key, err := apktest.NewKey("sha1")
	if err != nil {
		t.Fatal(err)
	}
	sha256Key, err := apktest.NewKey("sha256")
	if err != nil {
		t.Fatal(err)
	}
	sha256Key.SHA256 = true
	r := apktest.NewRepo(sha1Key)
	if _, err := r.Add(apktest.Pkg{Name: "a", Version: "1-r0"}); err != nil {
		t.Fatal(err)
	}
	sig1, body := splitIndex(t, r)
	r.Key = sha256Key
	sig256, _ := splitIndex(t, r)
	both := apk.NewKeyRing()
	both.Add(sha1Key.Name, sha1Key.PublicPEM())
	both.Add(sha256Key.Name, sha256Key.PublicPEM())
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	tests := []struct {
		name     string
		data     []byte
		keys     *apk.KeyRing
		signedBy string // "" when it must fail
		wantErr  string
	}{
		{"RSA (SHA-1)", cat(sig1, body), sha1Key.KeyRing(), "sha1.rsa.pub", ""},
		{"RSA256", cat(sig256, body), sha256Key.KeyRing(), "sha256.rsa.pub", ""},
		{"unknown then trusted", cat(sig256, sig1, body), sha1Key.KeyRing(), "sha1.rsa.pub", ""},
		{"trusted then unknown", cat(sig1, sig256, body), sha1Key.KeyRing(), "sha1.rsa.pub", ""},
		{"two trusted", cat(sig256, sig1, body), both, "sha256.rsa.pub", ""},
		{"unknown keys", cat(sig256, sig1, body), apk.NewKeyRing(), "",
			`verifying index t: signed by unknown keys "sha256.rsa.pub", "sha1.rsa.pub" (trusted: none)`},
		{"signature of another body", cat(sig1, body[:len(body)-8], []byte{1, 2, 3, 4}, body[len(body)-4:]), sha1Key.KeyRing(), "",
			"reading index t: "},
		{"signature after the body", cat(body, sig1), sha1Key.KeyRing(), "",
			"verifying index t: index is not signed"},
	}
	for _, tt := range tests {
		idx, err := apk.ReadIndexArchive(bytes.NewReader(tt.data), tt.keys, apk.IndexOptions{Source: "t"})
		switch {
		case tt.signedBy != "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.signedBy != "" && (idx.SignedBy != tt.signedBy || len(idx.Packages) != 1):
			t.Errorf("%s: signed by %q with %d records, want %q with 1", tt.name, idx.SignedBy, len(idx.Packages), tt.signedBy)
		case tt.signedBy == "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
			t.Errorf("%s: error = %v, want %s", tt.name, err, tt.wantErr)
		}
	}
}

// BenchmarkReadIndexArchiveV316 verifies and parses the real v3.16 main
// x86_64 index (655 KB compressed, 1.9 MB of APKINDEX, 4929 records).
func BenchmarkReadIndexArchiveV316(b *testing.B) {
	data := readShared(b, "indexes", "alpine-v3.16-main-x86_64.APKINDEX.tar.gz")
	keys := alpineKeys(b, "x86_64")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apk.ReadIndexArchive(bytes.NewReader(data), keys, apk.IndexOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzReadIndexArchive feeds arbitrary archives to ReadIndexArchive, with
// and without AllowUntrusted so that the fuzzer also reaches the APKINDEX
// parser. The seeds (testdata/fuzz/FuzzReadIndexArchive) are apktest
// indexes, the signed one by fuzzSeedKey; see TestWriteFuzzSeeds.
func FuzzReadIndexArchive(f *testing.F) {
	keys := fuzzSeedKeys(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, allow := range []bool{false, true} {
			idx, err := apk.ReadIndexArchive(bytes.NewReader(data), keys, apk.IndexOptions{Source: "fuzz", AllowUntrusted: allow})
			if err != nil {
				if !strings.Contains(err.Error(), "index fuzz") {
					t.Errorf("error %q does not name the index", err)
				}
				continue
			}
			if !allow && !idx.Trusted {
				t.Error("an index was accepted but is not trusted")
			}
			for _, p := range idx.Packages {
				if p.Repository != idx {
					t.Fatalf("record %s has no Repository", p.Name)
				}
			}
		}
	})
}

// TestReadIndexArchiveTooLarge: the APKINDEX text is held in memory until
// the signature over it is checked, so whoever serves an index (an http
// mirror, anyone on the path to it) decides how much is allocated up to
// MaxIndexSize. A 65 MiB text, 65 KiB gzipped, is refused from its tar
// header, before anything is read; the real community index is ~10 MiB.
func TestReadIndexArchiveTooLarge(t *testing.T) {
	const size = 65 << 20
	var archive bytes.Buffer
	zw := gzip.NewWriter(&archive)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "APKINDEX", Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := apk.ReadIndexArchive(bytes.NewReader(archive.Bytes()), alpineKeys(t, "x86_64"), apk.IndexOptions{Source: "big", AllowUntrusted: true})
	runtime.ReadMemStats(&after)
	if want := "APKINDEX has 68157440 bytes, more than 67108864"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ReadIndexArchive(%d-byte APKINDEX) error = %v, want one containing %q", size, err, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("ReadIndexArchive(%d-byte APKINDEX) allocated %d MiB, want it refused before reading", size, alloc>>20)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }
