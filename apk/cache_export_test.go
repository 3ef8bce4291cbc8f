package apk_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// TestCachedIndexArchiveAndIsCached: after a fetch, the cache hands back
// the served index archive byte for byte and knows which packages it has.
func TestCachedIndexArchiveAndIsCached(t *testing.T) {
	repo := newTestRepo(t)
	dir := t.TempDir()
	if err := repo.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	c := &apk.Client{CacheDir: t.TempDir(), Keys: pkgKey(t).KeyRing(), Arch: "x86_64"}
	ctx := context.Background()
	idx, err := c.FetchIndex(ctx, apk.Repository{URLs: []string{repo.URL("file://" + dir)}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.CachedIndexArchive(idx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := repo.IndexArchive()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("CachedIndexArchive differs from the served APKINDEX.tar.gz")
	}
	p := idx.Packages[0]
	if c.IsCached(p) {
		t.Errorf("IsCached(%s) before any fetch = true", p)
	}
	if _, err := c.FetchPackages(ctx, idx.Packages[:1]); err != nil {
		t.Fatal(err)
	}
	if !c.IsCached(p) {
		t.Errorf("IsCached(%s) after its fetch = false", p)
	}
	other := &apk.Client{CacheDir: filepath.Join(t.TempDir(), "empty"), Keys: c.Keys, Arch: "x86_64"}
	if _, err := other.CachedIndexArchive(idx); err == nil {
		t.Error("CachedIndexArchive from an empty cache succeeded")
	}
}
