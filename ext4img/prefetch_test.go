package ext4img

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/memfile"
)

// countingOpens hands out readers over generated content and counts how
// many are open, so a test can see that the read-ahead closes everything.
type countingOpens struct {
	mu     sync.Mutex
	open   int
	opened []string
}

type countedReader struct {
	io.Reader
	c *countingOpens
}

func (r *countedReader) Close() error {
	r.c.mu.Lock()
	r.c.open--
	r.c.mu.Unlock()
	return nil
}

func (c *countingOpens) content(name string, b []byte, fail bool) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		if fail {
			return nil, errors.New("no such blob")
		}
		c.mu.Lock()
		c.open++
		c.opened = append(c.opened, name)
		c.mu.Unlock()
		return &countedReader{Reader: bytes.NewReader(b), c: c}, nil
	}
}

// TestPrefetch writes trees that mix small files (read ahead) with files
// above prefetchBufSize (streamed) and checks the content lands in order,
// that a failing file is the one reported however far the read-ahead got,
// and that every reader opened is closed on success and on failure.
func TestPrefetch(t *testing.T) {
	const files = 300
	for _, failAt := range []int{-1, 0, 1, 150, files - 1} {
		t.Run(fmt.Sprintf("failAt=%d", failAt), func(t *testing.T) {
			var c countingOpens
			w := NewWriter(Options{NoJournal: true})
			want := map[string][]byte{}
			for i := range files {
				size := 100 + i*13
				if i%50 == 7 {
					size = prefetchBufSize + 1 + i // streamed by the writer
				}
				name := fmt.Sprintf("f%03d", i)
				b := randomBytes(size, uint64(i))
				want[name] = b
				if err := w.Add(Entry{Path: name, Mode: 0o644, ModTime: testTime, Size: int64(size), Content: c.content(name, b, i == failAt)}); err != nil {
					t.Fatal(err)
				}
			}
			var out memfile.File
			err := w.Write(&out)
			if failAt >= 0 {
				wantErr := fmt.Sprintf(`opening "f%03d": no such blob`, failAt)
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("Write = %v, want error containing %q", err, wantErr)
				}
			} else if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if c.open != 0 {
				t.Errorf("%d readers left open after Write", c.open)
			}
			if failAt >= 0 {
				return
			}
			img := writeImage(t, w)
			fsck(t, img)
			for _, name := range []string{"f000", "f007", "f150", fmt.Sprintf("f%03d", files-1)} {
				if got := debugfs(t, img, "cat /"+name); got != string(want[name]) {
					t.Errorf("content of %s differs (%d bytes, want %d)", name, len(got), len(want[name]))
				}
			}
		})
	}
}
