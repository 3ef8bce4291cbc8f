package imagefile_test

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
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// smallImage returns a writer holding a small tree with a 3 MiB file, so
// that the image has data blocks and holes; opened, when not nil, is
// called when the writer opens that file.
func smallImage(t *testing.T, opened func()) *ext4img.Writer {
	t.Helper()
	data := bytes.Repeat([]byte("rootfs-synth\n"), 3<<20/13)
	// No headroom: a small image keeps the xz case fast.
	w := ext4img.NewWriter(ext4img.Options{Time: time.Unix(1700000000, 0), HeadroomBlocks: -1})
	for _, e := range []ext4img.Entry{
		{Path: "etc", Mode: fs.ModeDir | 0o755},
		{Path: "etc/hostname", Mode: 0o644, Size: 5, Content: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("test\n")), nil
		}},
		{Path: "big", Mode: 0o600, Size: int64(len(data)), Content: func() (io.ReadCloser, error) {
			if opened != nil {
				opened()
			}
			return io.NopCloser(bytes.NewReader(data)), nil
		}},
	} {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// dirNames lists dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// stageAndCommit is Write, keeping what Stage tells of the image.
func stageAndCommit(ctx context.Context, w *ext4img.Writer, target string, opts imagefile.Options) (*imagefile.Staged, error) {
	s, err := imagefile.Stage(ctx, target, opts, w.Write)
	if err != nil {
		return nil, err
	}
	defer s.Discard()
	return s, s.Commit(ctx)
}

// TestStage: a plain, a .zst and a .xz target each hold the same image
// (the compressed ones decompress to the plain one, which e2fsck
// accepts), Size is the raw image's and Allocated what the file takes,
// Progress sees each step through to the raw size, and nothing but the
// target is left in the directory.
func TestStage(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "img.ext4")
	img, err := stageAndCommit(context.Background(), smallImage(t, nil), plain, imagefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2fsck.Check(t, plain); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if img.Size() != int64(len(raw)) || img.Allocated() <= 0 || img.Allocated() > img.Size() {
		t.Errorf("Stage(%s): size %d, allocated %d; want size %d and 0 < allocated <= size", plain, img.Size(), img.Allocated(), len(raw))
	}
	if fi, err := os.Stat(plain); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("Stage(%s) with Perm 0: %v, %v; want mode 0644", plain, fi.Mode(), err)
	}

	decoders := map[string]func(io.Reader) (io.Reader, error){
		".zst": func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) },
		".xz":  func(r io.Reader) (io.Reader, error) { return xz.NewReader(r) },
	}
	for ext, decode := range decoders {
		target := plain + ext
		done := map[string]int64{}
		progress := func(step string, n int64) { done[step] = n }
		img, err := stageAndCommit(context.Background(), smallImage(t, nil), target, imagefile.Options{Progress: progress})
		if err != nil {
			t.Fatalf("Stage(%s): %v", target, err)
		}
		f, err := os.Open(target)
		if err != nil {
			t.Fatal(err)
		}
		r, err := decode(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			t.Fatalf("decompressing %s: %v", target, err)
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%s decompresses to %d bytes unlike the %d-byte plain image", target, len(got), len(raw))
		}
		if img.Size() != int64(len(raw)) {
			t.Errorf("Stage(%s).Size() = %d, want the raw image's %d", target, img.Size(), len(raw))
		}
		if done["image"] != int64(len(raw)) || done["compress"] != int64(len(raw)) {
			t.Errorf("Stage(%s) reported progress %v, want image and compress at %d", target, done, len(raw))
		}
	}
	if got, want := strings.Join(dirNames(t, dir), " "), "img.ext4 img.ext4.xz img.ext4.zst"; got != want {
		t.Errorf("after the writes the directory holds %q, want %q", got, want)
	}
}

// TestWriteCanceled: a write canceled midway (when the writer opens the
// big file's content) fails with the cancellation's cause, naming the
// target, and leaves the old target as it was and no temporary file, for
// plain and compressed targets alike.
func TestWriteCanceled(t *testing.T) {
	for _, name := range []string{"img.ext4", "img.ext4.zst", "img.ext4.xz"} {
		dir := t.TempDir()
		target := filepath.Join(dir, name)
		if err := os.WriteFile(target, []byte("old image"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("interrupted by SIGINT")
		w := smallImage(t, func() { cancel(cause) })
		err := imagefile.Write(ctx, target, imagefile.Options{}, w.Write)
		if !errors.Is(err, cause) || !strings.Contains(err.Error(), target) {
			t.Errorf("Write(%s) canceled = %v, want an error naming it and wrapping the cancellation cause", name, err)
		}
		if got := strings.Join(dirNames(t, dir), " "); got != name {
			t.Errorf("after a canceled write of %s the directory holds %q, want only the old target", name, got)
		}
		if b, _ := os.ReadFile(target); string(b) != "old image" {
			t.Errorf("a canceled write replaced %s", name)
		}
	}
}

// TestCommitCanceled: a context done between Stage and Commit stops the
// rename; Discard then removes the staged file and the old target stays.
func TestCommitCanceled(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "img.ext4")
	if err := os.WriteFile(target, []byte("old image"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	s, err := imagefile.Stage(ctx, target, imagefile.Options{}, smallImage(t, nil).Write)
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("interrupted by SIGTERM")
	cancel(cause)
	if err := s.Commit(ctx); !errors.Is(err, cause) {
		t.Errorf("Commit after cancel = %v, want the cancellation cause", err)
	}
	s.Discard()
	if got := strings.Join(dirNames(t, dir), " "); got != "img.ext4" {
		t.Errorf("after a canceled commit the directory holds %q, want only the old target", got)
	}
	if b, _ := os.ReadFile(target); string(b) != "old image" {
		t.Error("a canceled commit replaced the target")
	}
}
