package ext4img

import (
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/memfile"
)

// TestEmptyFilesCheckedInLinearTime: checking that 20,000 empty files
// with a Content are empty takes well under a second, not the seconds
// of naming each by searching the tree (n.path), and a non-empty one is
// still reported under its first name.
func TestEmptyFilesCheckedInLinearTime(t *testing.T) {
	const n = 20000
	w := NewWriter(Options{})
	for i := range n {
		if i%100 == 0 {
			if err := w.Add(Entry{Path: fmt.Sprintf("d%03d", i/100), Mode: fs.ModeDir | 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Add(Entry{Path: fmt.Sprintf("d%03d/f%05d", i/100, i), Mode: 0o644, Content: bytesContent(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := w.Write(&memfile.File{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("writing %d empty files with a Content took %v, want well under a second", n, d)
	}
	if err := w.Add(Entry{Path: "d199/z", Mode: 0o644, Content: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }}); err != nil {
		t.Fatal(err)
	}
	if err := w.Link("d199/z", "a"); err != nil {
		t.Fatal(err)
	}
	err := w.Write(&memfile.File{})
	if want := `reading "a": content is longer than 0 bytes`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Write with an empty file whose Content is not: %v, want an error saying %s", err, want)
	}
}
