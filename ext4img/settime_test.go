package ext4img

import (
	"bytes"
	"io/fs"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/memfile"
)

// TestSetTimeSameImage: SetTime after the entries (and after a Layout)
// gives the image that Options.Time in NewWriter gives, byte for byte,
// root and lost+found (re-set or not) and entries without ModTime
// included.
func TestSetTimeSameImage(t *testing.T) {
	t1 := time.Unix(1700000000, 0)
	for _, resetRoot := range []bool{false, true} {
		build := func(opts Options, set *time.Time) []byte {
			w := NewWriter(opts)
			es := []Entry{
				{Path: "a", Mode: fs.ModeDir | 0o755},
				{Path: "a/f", Mode: 0o644, Size: 3, Content: bytesContent([]byte("abc"))},
				{Path: "a/g", Mode: 0o644, ModTime: time.Unix(1600000000, 5)},
				{Path: "lost+found/x", Mode: 0o600},
			}
			if resetRoot {
				es = append(es, Entry{Path: "", Mode: fs.ModeDir | 0o700}, Entry{Path: "lost+found", Mode: fs.ModeDir | 0o700})
			}
			for _, e := range es {
				if err := w.Add(e); err != nil {
					t.Fatal(err)
				}
			}
			if set != nil {
				if _, err := w.Layout(); err != nil {
					t.Fatal(err)
				}
				w.SetTime(*set)
			}
			var m memfile.File
			if err := w.Write(&m); err != nil {
				t.Fatal(err)
			}
			return m.Bytes()
		}
		want := build(Options{Time: t1}, nil)
		got := build(Options{Time: time.Unix(1, 0)}, &t1)
		if !bytes.Equal(got, want) {
			t.Errorf("re-set root %v: image with SetTime(%v) after Add and Layout differs from Options.Time = %v", resetRoot, t1, t1)
		}
	}
}
