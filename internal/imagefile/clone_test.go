//go:build linux

package imagefile_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// sparseBase writes a 64 MiB file with data at three places (one a
// block of zeros written out) and holes between them.
func sparseBase(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	want := make([]byte, 64<<20)
	copy(want[0:], "head")
	copy(want[20<<20:], bytes.Repeat([]byte("x"), 10000))
	copy(want[64<<20-5:], "tail\n")
	p := filepath.Join(dir, "base.ext4")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 20 << 20, 30 << 20, 64<<20 - 5} {
		n := 10000
		if off == 30<<20 {
			n = 1 << 20 // zeros, allocated
		}
		if _, err := f.WriteAt(want[off:min(int64(len(want)), off+int64(n))], off); err != nil {
			t.Fatal(err)
		}
	}
	return p, want
}

func allocated(t *testing.T, p string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestStageClone: the clone reads as the base, changed by change; it
// takes no more disk than the base (its 60 MiB of holes stay holes); the base is untouched; Commit puts it at the target. A
// failing change, a refused target and a refused base leave no target
// and no temporary file.
func TestStageClone(t *testing.T) {
	dir := t.TempDir()
	base, want := sparseBase(t, dir)
	target := filepath.Join(dir, "sandbox.ext4")
	s, method, err := imagefile.StageClone(context.Background(), target, base, imagefile.Options{}, func(name string) error {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteAt([]byte("HEAD"), 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Discard()
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	changed := slices.Clone(want)
	copy(changed, "HEAD")
	if !bytes.Equal(got, changed) {
		t.Errorf("StageClone(%s) = %d bytes differing from the base changed by change", base, len(got))
	}
	if b, _ := os.ReadFile(base); !bytes.Equal(b, want) {
		t.Errorf("StageClone changed the base")
	}
	if a, b := allocated(t, target), allocated(t, base); method == imagefile.SparseCopy && a > b {
		t.Errorf("sparse copy allocated %d bytes, want at most the base's %d (its holes kept)", a, b)
	}
	t.Logf("method %s, base allocated %d, clone %d", method, allocated(t, base), allocated(t, target))

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, target, base string
		change             error
		want               string
	}{
		{"change fails", "new.ext4", base, errors.New("patch refused"), "patch refused"},
		{"target a directory", "d", base, nil, "refusing to replace a directory"},
		{"target compressed", "new.ext4.zst", base, nil, "cannot be compressed"},
		{"base a FIFO", "new.ext4", fifo, nil, "a FIFO, not a regular file"},
		{"base missing", "new.ext4", filepath.Join(dir, "nothing"), nil, "no such file"},
	} {
		before := dirNames(t, dir)
		target := filepath.Join(dir, tt.target)
		_, _, err := imagefile.StageClone(context.Background(), target, tt.base, imagefile.Options{}, func(string) error { return tt.change })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: StageClone = %v, want an error containing %q", tt.name, err, tt.want)
		}
		if after := dirNames(t, dir); !slices.Equal(after, before) {
			t.Errorf("%s: directory %v after, want %v as before", tt.name, after, before)
		}
	}
}
