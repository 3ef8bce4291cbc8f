package imagefile_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

func fileDigest(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestStageDigest: Digest is the sha256 of the file as it reads, holes as
// zeros, whether the writer went front to back (hashed as it wrote), went
// back to change what it wrote (read back), or ended in a hole; for a
// compressed target it is the raw image's, and CompressedDigest the
// file's.
func TestStageDigest(t *testing.T) {
	ctx := context.Background()
	writers := []struct {
		name  string
		write func(io.WriteSeeker) error
	}{
		{"front to back with holes", func(w io.WriteSeeker) error {
			for _, at := range []int64{0, 5000, 1 << 20} {
				if _, err := w.Seek(at, io.SeekStart); err != nil {
					return err
				}
				if _, err := w.Write([]byte("data at " + string(rune('a'+at%26)))); err != nil {
					return err
				}
			}
			return nil
		}},
		{"going back", func(w io.WriteSeeker) error {
			if _, err := w.Write(make([]byte, 70000)); err != nil {
				return err
			}
			if _, err := w.Seek(100, io.SeekStart); err != nil {
				return err
			}
			_, err := w.Write([]byte("changed"))
			return err
		}},
		{"ending in a hole", func(w io.WriteSeeker) error {
			if _, err := w.Write([]byte("head")); err != nil {
				return err
			}
			if _, err := w.Seek(3<<20-1, io.SeekStart); err != nil {
				return err
			}
			_, err := w.Write([]byte{0})
			return err
		}},
	}
	for _, wr := range writers {
		for _, name := range []string{"img.ext4", "img.ext4.zst", "img.ext4.xz"} {
			target := filepath.Join(t.TempDir(), name)
			s, err := imagefile.Stage(ctx, target, imagefile.Options{}, wr.write)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			raw := target
			if name != "img.ext4" {
				if got, want := s.CompressedDigest(), fileDigest(t, target); got != want {
					t.Errorf("%s: Stage(%s).CompressedDigest() = %s, want %s", wr.name, name, got, want)
				}
				// The raw image, for the raw digest: the same writer into
				// a raw target.
				raw = filepath.Join(t.TempDir(), "raw.ext4")
				if err := imagefile.Write(ctx, raw, imagefile.Options{}, wr.write); err != nil {
					t.Fatal(err)
				}
			} else if s.CompressedDigest() != "" {
				t.Errorf("%s: Stage(%s).CompressedDigest() = %q, want \"\"", wr.name, name, s.CompressedDigest())
			}
			if got, want := s.Digest(), fileDigest(t, raw); got != want {
				t.Errorf("%s: Stage(%s).Digest() = %s, want %s", wr.name, name, got, want)
			}
		}
	}
}

// TestStageKind: Options.Kind names the file in errors, "image" when
// unset.
func TestStageKind(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ kind, want string }{{"", "writing image " + dir + ": "}, {"SBOM", "writing SBOM " + dir + ": "}} {
		_, err := imagefile.Stage(context.Background(), dir, imagefile.Options{Kind: tt.kind}, func(io.WriteSeeker) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Stage(a directory, Kind %q) = %v, want an error starting %q", tt.kind, err, tt.want)
		}
	}
}
