package apk_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

func TestFormatParseChecksum(t *testing.T) {
	seq := make([]byte, 20)
	for i := range seq {
		seq[i] = byte(i)
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{seq, "Q1AAECAwQFBgcICQoLDA0ODxAREhM="}, // python3 base64.b64encode(bytes(range(20)))
		{make([]byte, 20), "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{nil, ""},
	} {
		if got := apk.FormatChecksum(tc.in); got != tc.want {
			t.Errorf("FormatChecksum(%x) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.in == nil {
			continue
		}
		if got, err := apk.ParseChecksum(tc.want); err != nil || !bytes.Equal(got, tc.in) {
			t.Errorf("ParseChecksum(%q) = %x, %v; want %x", tc.want, got, err, tc.in)
		}
	}
	for _, bad := range []string{"", "Q1", "Q2AAECAwQFBgcICQoLDA0ODxAREhM=", "X1000102030405060708090a0b0c0d0e0f10111213",
		"Q1AAECAwQFBgcICQoLDA0ODxAREg==", "Q1AAECAwQFBgcICQoLDA0ODxAREhM", "Q1AAECAwQFBgcICQoLDA0ODxAREhM=x"} {
		if got, err := apk.ParseChecksum(bad); err == nil {
			t.Errorf("ParseChecksum(%q) = %x, want an error", bad, got)
		}
	}
}

// TestXattrChecksum checks apk's xattr digest against values computed
// with Python's hashlib: sha1 over sorted (be32 len, name, be32 len, value).
func TestXattrChecksum(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{"user.b": "2", "security.capability": "\x01\x00\x00\x02"}, "3c074fc2263fdcfef7ea4010550ea5f3f798093f"},
		{map[string]string{"user.x": "y"}, "9bc14678f6d4a8a1b3b96320381946e53279ebbf"},
		{nil, ""},
	} {
		if got := hex.EncodeToString(apk.XattrChecksum(tc.in)); got != tc.want {
			t.Errorf("XattrChecksum(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func sha1Of(s string) []byte {
	sum := sha1.Sum([]byte(s))
	return sum[:]
}

// TestPackageReaderChecksum reads a generated package three ways (content
// read to the end, Checksum before any Read, entries skipped by Next but
// for the hard link, whose checksum is its skipped target's) and checks
// Checksum against SHA-1s computed here, also for entries without the PAX
// record.
func TestPackageReaderChecksum(t *testing.T) {
	pkg := apktest.Pkg{Name: "sums", Version: "1-r0", Files: []apktest.File{
		{Name: "etc/"},
		{Name: "etc/a.conf", Data: []byte("a=1\n")},
		{Name: "etc/bare", Data: []byte("no pax checksum\n"), Checksum: "none"},
		{Name: "etc/empty"},
		{Name: "etc/q1", Data: []byte("q\n"), Checksum: apk.FormatChecksum(sha1Of("q\n"))}, // a non-abuild spelling
		{Name: "etc/link", Linkname: "a.conf"},
		{Name: "etc/link-bare", Linkname: "/etc/bare", Checksum: "none"},
		{Name: "etc/hard", Hardlink: "etc/bare"},
		{Name: "usr/bin/big", Mode: 0o755, Data: bytes.Repeat([]byte("0123456789"), 100_000)},
	}}
	want := map[string][]byte{
		"etc/":          nil,
		"etc/a.conf":    sha1Of("a=1\n"),
		"etc/bare":      sha1Of("no pax checksum\n"),
		"etc/empty":     sha1Of(""),
		"etc/q1":        sha1Of("q\n"),
		"etc/link":      sha1Of("a.conf"),
		"etc/link-bare": sha1Of("/etc/bare"),
		"etc/hard":      sha1Of("no pax checksum\n"),
		"usr/bin/big":   sha1Of(strings.Repeat("0123456789", 100_000)),
	}
	data, rec, err := apktest.BuildPackage(pkg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"read", "checksum-first", "skip"} {
		t.Run(mode, func(t *testing.T) {
			r, err := apk.NewPackageReader(bytes.NewReader(data), rec)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Checksum(); err == nil {
				t.Error("Checksum before Next = nil error, want one")
			}
			seen := 0
			for {
				hdr, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				w, ok := want[hdr.Name]
				if !ok {
					continue // implied parent directories
				}
				seen++
				if mode == "skip" && hdr.Typeflag != tar.TypeLink {
					continue // a hard link's checksum is that of a target Next skipped
				}
				if mode == "read" {
					if _, err := io.Copy(io.Discard, r); err != nil {
						t.Fatal(err)
					}
				}
				got, err := r.Checksum()
				if err != nil || !bytes.Equal(got, w) {
					t.Errorf("%s: Checksum() = %x, %v; want %x", hdr.Name, got, err, w)
				}
				if len(got) > 0 {
					got[0] ^= 0xff // the caller's to keep: must not change what follows
					if again, _ := r.Checksum(); !bytes.Equal(again, w) {
						t.Errorf("%s: Checksum() after changing its result = %x, want %x", hdr.Name, again, w)
					}
				}
				if hdr.Typeflag == tar.TypeReg {
					if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
						t.Errorf("%s: Read after Checksum = %d, %v; want 0, EOF", hdr.Name, n, err)
					}
				}
			}
			if seen != len(want) {
				t.Errorf("saw %d of the %d entries", seen, len(want))
			}
			if _, err := r.Checksum(); err != io.EOF {
				t.Errorf("Checksum after the end = %v, want io.EOF", err)
			}
		})
	}
}

// TestPackageReaderChecksumMismatch: Checksum, reading the rest of a file
// whose content does not match its PAX record, reports the mismatch.
func TestPackageReaderChecksumMismatch(t *testing.T) {
	data, rec, err := apktest.BuildPackage(apktest.Pkg{Name: "bad", Version: "1-r0", Files: []apktest.File{
		{Name: "f", Data: []byte("content"), Checksum: hex.EncodeToString(sha1Of("other"))},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := apk.NewPackageReader(bytes.NewReader(data), rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	sum, err := r.Checksum()
	if err == nil || !strings.Contains(err.Error(), `data entry "f": checksum mismatch`) {
		t.Errorf("Checksum() = %x, %v; want a checksum mismatch of data entry f", sum, err)
	}
	if _, err2 := r.Next(); !errors.Is(err2, err) && (err2 == nil || err2.Error() != err.Error()) {
		t.Errorf("Next after the mismatch = %v, want the same error", err2)
	}
}

// TestPackageReaderChecksumReal checks Checksum on the real packages
// against their abuild-tar PAX records and against a SHA-1 of the content
// or link target computed here.
func TestPackageReaderChecksumReal(t *testing.T) {
	for _, rp := range realPackages {
		t.Run(rp.file, func(t *testing.T) {
			r, err := apk.NewPackageReader(bytes.NewReader(readShared(t, "packages", rp.file)), realRecord(t, rp.file))
			if err != nil {
				t.Fatal(err)
			}
			sums := 0
			for i := 0; ; i++ {
				hdr, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				var own []byte
				switch hdr.Typeflag {
				case tar.TypeReg:
					if i%2 == 0 { // every other file: let Checksum read the content
						content, err := io.ReadAll(r)
						if err != nil {
							t.Fatal(err)
						}
						own = sha1Of(string(content))
					}
				case tar.TypeSymlink:
					own = sha1Of(hdr.Linkname)
				default:
					if got, err := r.Checksum(); got != nil || err != nil {
						t.Errorf("%s (type %c): Checksum() = %x, %v; want nil", hdr.Name, hdr.Typeflag, got, err)
					}
					continue
				}
				got, err := r.Checksum()
				if err != nil {
					t.Fatal(err)
				}
				pax, _ := hex.DecodeString(hdr.PAXRecords[apk.PAXChecksumSHA1])
				if !bytes.Equal(got, pax) || own != nil && !bytes.Equal(got, own) {
					t.Errorf("%s: Checksum() = %x, want the PAX record %x (and the SHA-1 here %x)", hdr.Name, got, pax, own)
				}
				sums++
			}
			if sums == 0 {
				t.Error("no regular file or symlink checked")
			}
		})
	}
}
