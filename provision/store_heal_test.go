package provision

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
)

// TestStoreCorruptHeals: a byte changed in a package's stored data is a
// *StoreCorruptError naming the package when the content is read, the
// package's manifest is dropped from the store, and the next run unpacks
// it again from the verified .apk, so the content reads right again.
func TestStoreCorruptHeals(t *testing.T) {
	f := newFixture(t, basePackages(t), "svc")
	readSvc := func() error {
		t.Helper()
		res, err := Provision(context.Background(), f.options())
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		rc, err := node(t, res.Tree, "usr/bin/svc").Content()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		_, err = io.ReadAll(rc)
		return err
	}
	if err := readSvc(); err != nil {
		t.Fatalf("reading /usr/bin/svc of a fresh store: %v", err)
	}
	var svc *apk.Package
	for _, p := range f.pkgs {
		if p.Name == "svc" {
			svc = p
		}
	}
	s := newStore(f.store)
	data, manifest := s.pkgPath(svc, ".data"), s.pkgPath(svc, ".json")
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if err := os.WriteFile(data, b, 0o600); err != nil {
		t.Fatal(err)
	}

	err = readSvc()
	var corrupt *StoreCorruptError
	if !errors.As(err, &corrupt) || corrupt.Package != svc.String() {
		t.Fatalf("reading /usr/bin/svc after a byte of %s changed = %v, want a *StoreCorruptError naming %s", data, err, svc)
	}
	if _, err := os.Stat(manifest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the manifest %s is still in the store after its data was found changed (%v)", manifest, err)
	}
	if err := readSvc(); err != nil {
		t.Errorf("reading /usr/bin/svc in the run after the corruption was found: %v, want it unpacked again", err)
	}
}

// tamperSvc changes the stored bytes of the base's /usr/bin/svc behind
// the tree's back, keeping their size.
func tamperSvc(t *testing.T, store string) {
	t.Helper()
	var victim string
	filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if b, err := os.ReadFile(p); err == nil && strings.HasSuffix(p, ".data") && bytes.Contains(b, []byte("better svc binary")) {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("stored data of /usr/bin/svc not found")
	}
	b, _ := os.ReadFile(victim)
	if err := os.WriteFile(victim, bytes.Replace(b, []byte("better"), []byte("evil!!"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStoreDetectsTampering: reading a stored file whose bytes changed
// fails, naming the path.
func TestStoreDetectsTampering(t *testing.T) {
	f, res := provisionBase(t)
	n := node(t, res.Tree, "usr/bin/svc")
	tamperSvc(t, f.store)
	rc, err := n.Content()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "usr/bin/svc") {
		t.Errorf("reading a tampered stored file: %v, want an error naming /usr/bin/svc", err)
	}
}

// TestTamperedStoreFailsImageWrite: stored bytes changed behind the tree's
// back (same size) fail the image write, naming the path; the mismatch
// must survive readers that drop an error coming with a full buffer.
func TestTamperedStoreFailsImageWrite(t *testing.T) {
	f, res := provisionBase(t)
	tamperSvc(t, f.store)
	w := ext4img.NewWriter(ext4img.Options{UUID: res.UUID, HashSeed: res.HashSeed, Time: res.Time})
	if err := res.Tree.AddTo(w); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "img")
	err := w.WriteFile(img, 0o644)
	if err == nil || !strings.Contains(err.Error(), "usr/bin/svc") {
		t.Errorf("writing an image from a tampered store: %v, want an error naming /usr/bin/svc", err)
	}
	if _, statErr := os.Stat(img); statErr == nil {
		t.Error("an image was left behind")
	}
}
