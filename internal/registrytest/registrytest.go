// Package registrytest serves go-containerregistry's in-process OCI
// registry (pkg/registry) on 127.0.0.1 for tests, with or without the
// referrers API, and can make it serve tampered blobs; WriteImage writes
// small images to push, holding a build report where the build stores it.
//
// Left out on purpose: authentication and TLS (the registry client talks
// plain http to 127.0.0.1, as to any loopback or private address).
package registrytest

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// Registry is a registry served for one test.
type Registry struct {
	// Host is "127.0.0.1:port", to put in front of a repository name.
	Host  string
	blobs *tamperBlobs
}

// Serve starts a registry that is stopped when the test ends; referrers
// turns the referrers API on (without it, clients use the referrers tag).
func Serve(t testing.TB, referrers bool) *Registry {
	t.Helper()
	blobs := &tamperBlobs{inner: registry.NewInMemoryBlobHandler()}
	srv := httptest.NewServer(registry.New(
		registry.WithReferrersSupport(referrers),
		registry.WithBlobHandler(blobs),
		registry.Logger(log.New(io.Discard, "", 0)),
	))
	t.Cleanup(srv.Close)
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), blobs: blobs}
}

// Tamper makes every later read of a blob larger than 4 KiB (a layer,
// not a config or a small artifact) come back with one byte flipped in
// its middle.
func (r *Registry) Tamper() {
	r.blobs.mu.Lock()
	r.blobs.flip = true
	r.blobs.mu.Unlock()
}

// tamperBlobs is the in-memory blob store that can flip a byte of what
// it serves.
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

// SourceDate is the SOURCE_DATE_EPOCH of WriteImage's images.
var SourceDate = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// WriteImage writes a 32 MiB ext4 image with 1 MiB of incompressible data
// and, unless arch is "", a build report for arch stored where the build
// stores it; name ending in .zst writes it compressed, as the build does.
// It returns the report's bytes.
func WriteImage(t testing.TB, path, arch string, seed uint64) []byte {
	t.Helper()
	w := ext4img.NewWriter(ext4img.Options{Size: 32 << 20, Time: SourceDate, UUID: [16]byte{0xab, byte(seed), 3, 4}})
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
			SourceDateEpoch: SourceDate.Unix(),
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
