package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
)

// cancelSink cancels the walk's context when it is given its nth entry.
type cancelSink struct {
	n, entries int
	cancel     context.CancelFunc
}

func (s *cancelSink) Add(ext4img.Entry) error { s.count(); return nil }
func (s *cancelSink) Link(_, _ string) error  { s.count(); return nil }
func (s *cancelSink) count() {
	s.entries++
	if s.entries == s.n {
		s.cancel()
	}
}

// TestWalkCancelMidWalk: cancelling the context while the walk runs,
// wherever the lister is, ends the walk with the context's error, never
// a panic or a hang.
func TestWalkCancelMidWalk(t *testing.T) {
	src := t.TempDir()
	const dirs, perDir = 20, 300
	for d := range dirs {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range perDir {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir, err := openHostDir(src)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	for i := range 300 {
		ctx, cancel := context.WithCancel(context.Background())
		sink := &cancelSink{n: 1 + i%50, cancel: cancel}
		_, err := walkHostTree(ctx, dir, hostTreeOptions{UID: -1}, sink)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("walk cancelled at entry %d: %v, want context.Canceled", sink.n, err)
		}
	}
}
