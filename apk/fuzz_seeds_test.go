package apk_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// FuzzPackageReader feeds arbitrary packages to the reader and checks that
// whatever it accepts has only safe paths and accounts for every byte. The
// seeds (testdata/fuzz/FuzzPackageReader) are apktest packages; see
// TestWriteFuzzSeeds.
func FuzzPackageReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := apk.NewPackageReader(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		for {
			hdr, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "reading package ") {
					t.Errorf("error %q does not name the package", err)
				}
				return
			}
			if strings.HasPrefix(hdr.Name, "/") || slices.Contains(strings.Split(hdr.Name, "/"), "..") {
				t.Fatalf("accepted unsafe path %q", hdr.Name)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
		}
		if info := r.Info(); info.Size != int64(len(data)) {
			t.Errorf("verified package has Size %d, input has %d bytes", info.Size, len(data))
		}
	})
}

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite testdata/fuzz/{FuzzPackageReader,FuzzReadIndexArchive} and testdata/"+fuzzSeedKey+" from apktest output")

// fuzzSeedKey is the public key of the signed fuzz seeds, in testdata, so
// that FuzzReadIndexArchive reaches the trusted path.
const fuzzSeedKey = "fuzz-seed.rsa.pub"

// fuzzSeedKeys returns a key ring with fuzzSeedKey.
func fuzzSeedKeys(t testing.TB) *apk.KeyRing {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join("testdata", fuzzSeedKey))
	if err != nil {
		t.Fatal(err)
	}
	keys := apk.NewKeyRing()
	if err := keys.Add(fuzzSeedKey, pem); err != nil {
		t.Fatal(err)
	}
	return keys
}

// readFuzzSeed returns the []byte of a seed file in testdata/fuzz.
func readFuzzSeed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	q, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "go test fuzz v1\n[]byte(")
	if q, ok = strings.CutSuffix(q, ")"); !ok {
		t.Fatalf("%s is not a go test fuzz v1 file with one []byte", name)
	}
	s, err := strconv.Unquote(q)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
}

// TestFuzzSeedsAccepted checks that the seeds reach the accepting paths of
// FuzzPackageReader and FuzzReadIndexArchive, so that the properties those
// check there are not vacuous.
func TestFuzzSeedsAccepted(t *testing.T) {
	for _, name := range []string{"apktest-0", "apktest-1", "apktest-unsigned"} {
		if _, err := apk.VerifyPackage(bytes.NewReader(readFuzzSeed(t, "FuzzPackageReader/"+name)), nil); err != nil {
			t.Errorf("VerifyPackage(seed %s) = %v, want it read to the end", name, err)
		}
	}
	idx, err := apk.ReadIndexArchive(bytes.NewReader(readFuzzSeed(t, "FuzzReadIndexArchive/apktest-signed")), fuzzSeedKeys(t), apk.IndexOptions{})
	if err != nil || !idx.Trusted || len(idx.Packages) != 2 {
		t.Errorf("ReadIndexArchive(seed apktest-signed) = %v, want a trusted index of 2 records", err)
	}
	idx, err = apk.ReadIndexArchive(bytes.NewReader(readFuzzSeed(t, "FuzzReadIndexArchive/apktest-unsigned")), fuzzSeedKeys(t), apk.IndexOptions{AllowUntrusted: true})
	if err != nil || idx.Trusted || len(idx.Packages) != 2 {
		t.Errorf("ReadIndexArchive(seed apktest-unsigned, AllowUntrusted) = %v, want an untrusted index of 2 records", err)
	}
}

// TestWriteFuzzSeeds is the generator of the fuzz seed corpora:
// go test ./apk -run TestWriteFuzzSeeds -write-fuzz-seeds
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeFuzzSeeds {
		t.Skip("run with -write-fuzz-seeds to rewrite the seed corpora")
	}
	key, err := apktest.NewKey(fuzzSeedKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", fuzzSeedKey), key.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := apktest.NewRepo(key)
	seeds := map[string][]byte{}
	for i, p := range []apktest.Pkg{
		{Name: "tiny", Version: "1-r0", Files: []apktest.File{{Name: "bin/sh", Linkname: "/bin/busybox"}}},
		{Name: "files", Version: "2.0-r1", Depends: []string{"so:libc.musl-x86_64.so.1"}, Provides: []string{"cmd:f=2.0-r1"},
			Triggers: []string{"/usr/lib/f"}, Scripts: map[string]string{"post-install": "#!/bin/sh\n", "trigger": "#!/bin/sh\n"},
			Files: []apktest.File{
				{Name: "etc/f.conf", Data: []byte("a=1\n"), Xattrs: map[string][]byte{"user.x": []byte("y")}},
				{Name: "usr/bin/f", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
				{Name: "usr/bin/g", Hardlink: "usr/bin/f"},
			}},
	} {
		data, rec, err := apktest.BuildPackage(p, key)
		if err != nil {
			t.Fatal(err)
		}
		seeds[fmt.Sprintf("FuzzPackageReader/apktest-%d", i)] = data
		repo.Packages = append(repo.Packages, apktest.Built{Record: rec, Data: data})
	}
	unsigned, _, err := apktest.BuildPackage(apktest.Pkg{Name: "u", Version: "1-r0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seeds["FuzzPackageReader/apktest-unsigned"] = unsigned
	index, err := repo.IndexArchive()
	if err != nil {
		t.Fatal(err)
	}
	seeds["FuzzReadIndexArchive/apktest-signed"] = index
	repo.Key = nil
	if index, err = repo.IndexArchive(); err != nil {
		t.Fatal(err)
	}
	seeds["FuzzReadIndexArchive/apktest-unsigned"] = index
	for name, data := range seeds {
		p := filepath.Join("testdata", "fuzz", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
