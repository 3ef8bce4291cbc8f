package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// sourceDate is the SOURCE_DATE_EPOCH of the test images.
var sourceDate = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// testImage writes a 32 MiB ext4 image with 1 MiB of incompressible data
// and, unless arch is "", a build report for arch stored where the build
// stores it; name ending in .zst writes it compressed, as the build does.
// It returns the report's bytes.
func testImage(t *testing.T, path, arch string, seed uint64) []byte {
	t.Helper()
	w := ext4img.NewWriter(ext4img.Options{Size: 32 << 20, Time: sourceDate, UUID: [16]byte{0xab, byte(seed), 3, 4}})
	data := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	entries := []ext4img.Entry{{Path: "data.bin", Mode: 0o644, Size: int64(len(data)), Content: opener(data)}}
	var report []byte
	if arch != "" {
		rep := build.Report{
			Arch:            arch,
			World:           []string{"busybox"},
			Repositories:    []string{"https://mirror.invalid/alpine/v3.23/main", "https://mirror.invalid/alpine/v3.23/community"},
			SourceDateEpoch: sourceDate.Unix(),
			Packages: []provision.PackageReport{
				{Name: "busybox", Version: "1.37.0-r30", Checksum: "Q1aaaaaaaaaaaaaaaaaaaaaaaaaaa="},
				{Name: "musl", Version: "1.2.5-r10", Checksum: "Q1bbbbbbbbbbbbbbbbbbbbbbbbbbb="},
			},
		}
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		report = b.Bytes()
		for _, d := range []string{"usr", "usr/lib", "usr/lib/rootfs-synth"} {
			entries = append(entries, ext4img.Entry{Path: d, Mode: fs.ModeDir | 0o755})
		}
		entries = append(entries, ext4img.Entry{Path: "usr/lib/rootfs-synth/report.json", Mode: 0o644, Size: int64(len(report)), Content: opener(report)})
	}
	for _, e := range entries {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFile(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return report
}

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// testRegistry serves go-containerregistry's registry on 127.0.0.1, with
// or without the referrers API; the returned tamper function makes every
// later read of a blob larger than 4 KiB come back with one byte flipped.
func testRegistry(t *testing.T, referrers bool) (host string, tamper func()) {
	t.Helper()
	blobs := &tamperBlobs{inner: registry.NewInMemoryBlobHandler()}
	srv := httptest.NewServer(registry.New(
		registry.WithReferrersSupport(referrers),
		registry.WithBlobHandler(blobs),
		registry.Logger(log.New(io.Discard, "", 0)),
	))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() { blobs.mu.Lock(); blobs.flip = true; blobs.mu.Unlock() }
}

// tamperBlobs is the in-memory blob store that can flip a byte in the
// middle of what it serves.
type tamperBlobs struct {
	inner registry.BlobHandler
	mu    sync.Mutex
	flip  bool
}

func (b *tamperBlobs) Get(ctx context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	rc, err := b.inner.Get(ctx, repo, h)
	b.mu.Lock()
	flip := b.flip
	b.mu.Unlock()
	if err != nil || !flip {
		return rc, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	if len(data) > 4096 {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0x40
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *tamperBlobs) Stat(ctx context.Context, repo string, h v1.Hash) (int64, error) {
	return b.inner.(registry.BlobStatHandler).Stat(ctx, repo, h)
}

func (b *tamperBlobs) Put(ctx context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	return b.inner.(registry.BlobPutHandler).Put(ctx, repo, h, rc)
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
