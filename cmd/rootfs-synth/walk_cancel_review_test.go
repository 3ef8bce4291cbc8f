package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// failSink fails when it is given its nth entry.
type failSink struct{ n, entries int }

func (s *failSink) Add(e ext4img.Entry) error { return s.count() }
func (s *failSink) Link(_, _ string) error    { return s.count() }
func (s *failSink) count() error {
	s.entries++
	if s.entries == s.n {
		return errors.New("sink full")
	}
	return nil
}

// TestWalkSinkErrorStopsAll: a sink error ends the walk with that error
// and leaves no goroutine of it running.
func TestWalkSinkErrorStopsAll(t *testing.T) {
	src := t.TempDir()
	for d := range 10 {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range 400 {
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
	before := runtime.NumGoroutine()
	for i := range 100 {
		sink := &failSink{n: 1 + i*37}
		_, err := walkHostTree(context.Background(), dir, hostTreeOptions{UID: -1}, sink)
		if err == nil || !strings.Contains(err.Error(), "sink full") {
			t.Fatalf("walk whose sink fails at entry %d: %v, want the sink's error", sink.n, err)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after 100 failed walks, %d before", after, before)
	}
}
