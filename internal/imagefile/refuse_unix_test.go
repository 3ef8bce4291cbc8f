//go:build unix

package imagefile_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// TestWriteCancelledMidway: a context cancelled in the middle of the
// write (here by the second file's Content, past the writer's 1 MiB
// buffer) ends Write with the cancellation's cause, naming the image, and
// leaves no image and no temporary file.
func TestWriteCancelledMidway(t *testing.T) {
	stop := errors.New("test stop")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	data := bytes.Repeat([]byte{7}, 3<<20) // past the 1 MiB write buffer
	w := ext4img.NewWriter(ext4img.Options{})
	for _, name := range []string{"a", "b"} {
		content := func() (io.ReadCloser, error) {
			if name == "b" {
				cancel(stop)
			}
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		if err := w.Add(ext4img.Entry{Path: name, Mode: 0o644, Size: int64(len(data)), Content: content}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	err := imagefile.Write(ctx, img, imagefile.Options{}, w.Write)
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), img) {
		t.Errorf("Write(cancelled) = %v, want an error naming %s and wrapping %v", err, img, stop)
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("Write(cancelled) left %v", left)
	}
}

// TestWriteRefuses: an existing name that is not a regular file is
// refused and left as it was; a regular file is replaced (through
// ext4img's WriteFile, which is this pipeline too).
func TestWriteRefuses(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(target, filepath.Join(dir, "symlink")))
	must(os.Symlink("nowhere", filepath.Join(dir, "dangling")))
	must(os.Mkdir(filepath.Join(dir, "dir"), 0o755))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	tests := []struct {
		name string
		want string // "" for success
	}{
		{"target", ""},
		{"new", ""},
		{"symlink", "refusing to replace a symbolic link"},
		{"dangling", "refusing to replace a symbolic link"},
		{"dir", "refusing to replace a directory"},
		{"fifo", "refusing to replace a FIFO"},
		{"/dev/null", "refusing to replace a character device"},
	}
	for _, tt := range tests {
		name := tt.name
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		before, _ := os.Lstat(name)
		w := ext4img.NewWriter(ext4img.Options{})
		must(w.Add(ext4img.Entry{Path: "f", Mode: 0o644, Size: 2, Content: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("hi")), nil
		}}))
		err := w.WriteFile(name, 0o644)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if tt.want == "" && err != nil || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("WriteFile(%s) = %q, want %q", tt.name, got, tt.want)
		}
		if after, _ := os.Lstat(name); tt.want != "" && (before == nil || after == nil || after.Mode() != before.Mode()) {
			t.Errorf("WriteFile(%s) changed it: mode %v, was %v", tt.name, after.Mode(), before.Mode())
		}
		if err := imagefile.Check(name); (err == nil) != (tt.want == "") {
			t.Errorf("Check(%s) = %v, want an error %v", tt.name, err, tt.want != "")
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "symlink")); len(b) < 1024 {
		// "target" itself was replaced by an image above; the symlink
		// still points at it.
		t.Errorf("symlink's target holds %d bytes, want the image written to target", len(b))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) > 0 {
		t.Errorf("WriteFile left temporary files %v", left)
	}
}
