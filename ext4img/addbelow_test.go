package ext4img

import (
	"io/fs"
	"strings"
	"testing"
)

// TestAddBelowFileNamesIt: adding below a non-directory names that
// non-directory as the path does, also when it is hard-linked under a
// name that comes first in the tree.
func TestAddBelowFileNamesIt(t *testing.T) {
	w := NewWriter(Options{})
	for _, e := range []Entry{{Path: "a", Mode: fs.ModeDir | 0o755}, {Path: "z", Mode: fs.ModeDir | 0o755}, {Path: "z/f", Mode: 0o644}} {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Link("z/f", "a/f"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"z/f/x", "z/f/x/y"} {
		err := w.Add(Entry{Path: p, Mode: 0o644})
		if want := `is below "z/f", which is not a directory`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Add(%q) = %v, want an error saying %s", p, err, want)
		}
	}
}
