package ext4img

import (
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/memfile"
)

// openLog is an fs.FS that records the names opened in it.
type openLog struct {
	fs.FS
	mu    sync.Mutex
	names []string
}

func (o *openLog) Open(name string) (fs.File, error) {
	o.mu.Lock()
	o.names = append(o.names, name)
	o.mu.Unlock()
	return o.FS.Open(name)
}

// TestFilesReadByFirstName: files added with a Size but no Content are
// read from Options.Files, each inode once, under its first name in
// depth-first name order (not the name it was added under), and the image
// holds their bytes.
func TestFilesReadByFirstName(t *testing.T) {
	mt := time.Unix(1700000000, 0)
	data := map[string]string{"z/f": "linked\n", "b/c/g": "deep\n", "h": "top\n", "a/l": "linked\n"}
	files := &openLog{FS: fstest.MapFS{
		"z/f":   {Data: []byte(data["z/f"])},
		"a/l":   {Data: []byte(data["a/l"])}, // the same inode as z/f
		"b/c/g": {Data: []byte(data["b/c/g"])},
		"h":     {Data: []byte(data["h"])},
	}}
	w := NewWriter(Options{Files: files})
	for _, e := range []Entry{
		{Path: "z", Mode: fs.ModeDir | 0o755, ModTime: mt},
		{Path: "z/f", Mode: 0o644, ModTime: mt, Size: 7},
		{Path: "h", Mode: 0o600, ModTime: mt, Size: 4},
		{Path: "b", Mode: fs.ModeDir | 0o755, ModTime: mt},
		{Path: "b/c", Mode: fs.ModeDir | 0o755, ModTime: mt},
		{Path: "b/c/g", Mode: 0o644, ModTime: mt, Size: 5},
		{Path: "b/empty", Mode: 0o644, ModTime: mt},
		{Path: "a", Mode: fs.ModeDir | 0o755, ModTime: mt},
	} {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Link("z/f", "a/l"); err != nil {
		t.Fatal(err)
	}
	img := writeImage(t, w)
	fsck(t, img)
	if want := []string{"a/l", "b/c/g", "h"}; !slices.Equal(sorted(files.names), want) {
		t.Errorf("opened %q, want each inode once by its first name: %q", files.names, want)
	}
	for p, want := range data {
		if got := debugfs(t, img, "cat /"+p); got != want {
			t.Errorf("/%s holds %q, want %q", p, got, want)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestFilesMismatch: what Options.Files opens must be a regular file of
// the size added; anything else is an error naming the path, and no image.
func TestFilesMismatch(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"grown", fstest.MapFS{"d/f": {Data: []byte("hello")}}, `"d/f": 5 bytes, was 3 when added`},
		{"shrunk", fstest.MapFS{"d/f": {Data: []byte("h")}}, `"d/f": 1 bytes, was 3 when added`},
		{"directory", fstest.MapFS{"d/f": {Mode: fs.ModeDir | 0o755}}, `"d/f": no longer a regular file (d---------)`},
		{"missing", fstest.MapFS{"d/g": {Data: []byte("abc")}}, `opening "d/f": open d/f: file does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(Options{Files: tt.files})
			if err := w.Add(Entry{Path: "d", Mode: fs.ModeDir | 0o755}); err != nil {
				t.Fatal(err)
			}
			if err := w.Add(Entry{Path: "d/f", Mode: 0o644, Size: 3}); err != nil {
				t.Fatal(err)
			}
			err := w.Write(&memfile.File{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("writing with d/f %s: %v, want an error saying %s", tt.name, err, tt.want)
			}
		})
	}
}

// TestAddNeedsContentOrFiles: a regular file with a Size needs a Content
// or the Writer's Options.Files.
func TestAddNeedsContentOrFiles(t *testing.T) {
	err := NewWriter(Options{}).Add(Entry{Path: "f", Mode: 0o644, Size: 3})
	if err == nil || !strings.Contains(err.Error(), "no content") {
		t.Errorf("Add of 3 bytes without Content or Files: %v, want an error", err)
	}
}
