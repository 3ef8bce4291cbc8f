package oci_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/rootfs-synth/rootfs-synth/internal/registrytest"
)

// sourceDate is the SOURCE_DATE_EPOCH of the test images.
var sourceDate = registrytest.SourceDate

func testImage(t *testing.T, path, arch string, seed uint64) []byte {
	return registrytest.WriteImage(t, path, arch, seed)
}

// testRegistry serves a registry on 127.0.0.1, with or without the
// referrers API; tamper makes it flip a byte of every later layer it serves.
func testRegistry(t *testing.T, referrers bool) (host string, tamper func()) {
	r := registrytest.Serve(t, referrers)
	return r.Host, r.Tamper
}

// fileDigest is the sha256 digest of a file, as "sha256:<hex>".
func fileDigest(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil))
}

// decodeJSON decodes b into a new T.
func decodeJSON[T any](t *testing.T, b []byte) *T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func tempPath(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }

// writeTwoFrames writes the file src as two zstd frames, its halves.
func writeTwoFrames(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := enc.EncodeAll(data[:len(data)/2], nil)
	out = enc.EncodeAll(data[len(data)/2:], out)
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
