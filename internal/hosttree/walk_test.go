//go:build linux

package hosttree

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// openTestDir opens src for Walk until the test ends.
func openTestDir(t *testing.T, src string) *Dir {
	t.Helper()
	dir, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return dir
}

// countSink is a Sink that keeps nothing: it counts the entries and
// calls at(n) with the count of each.
type countSink struct {
	entries int
	at      func(n int) error
}

func (s *countSink) Add(ext4img.Entry) error { return s.count() }
func (s *countSink) Link(_, _ string) error  { return s.count() }

func (s *countSink) count() error {
	s.entries++
	if s.at == nil {
		return nil
	}
	return s.at(s.entries)
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestWalkHoldsNoTree: walking a host directory holds a bounded number of
// paths in flight, not the tree: 60,000 entries walked into a sink that
// keeps nothing leave the heap within 8 MiB of where it started at any
// point (measured 2-4 MiB: the batches in flight, and what the walk's
// goroutines allocate while the sink collects). Before the walk streamed,
// it held every path, lstat and node until the end: over 400 bytes per
// entry, 25 MB here. With the image writer as the sink, its ~110 bytes
// per entry are then all that grows with the tree (ext4img's
// TestMemoryPerEntry).
func TestWalkHoldsNoTree(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 60,000 files")
	}
	src := testenv.MemDir(t, 64<<20)
	const dirs, perDir = 200, 299
	testenv.FlatTree(t, src, dirs, perDir)
	dir := openTestDir(t, src)
	base := liveHeap()
	var maxHeap uint64
	sink := &countSink{at: func(n int) error {
		if n%5000 == 0 {
			maxHeap = max(maxHeap, liveHeap())
		}
		return nil
	}}
	tree, err := Walk(context.Background(), dir, Options{UID: -1}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + dirs*(1+perDir); sink.entries != want || tree.Entries != want {
		t.Fatalf("walk gave the sink %d entries and counted %d, want %d", sink.entries, tree.Entries, want)
	}
	if grown := int64(maxHeap) - int64(base); grown > 8<<20 {
		t.Errorf("walking %d entries grew the live heap by %.1f MiB (%.0f bytes per entry), want at most 8 MiB: the walk holds the tree",
			sink.entries, float64(grown)/(1<<20), float64(grown)/float64(sink.entries))
	}
}

// TestWalkCancelMidWalk: cancelling the context while the walk runs,
// wherever the lister is, ends the walk with the context's error, never
// a panic or a hang.
func TestWalkCancelMidWalk(t *testing.T) {
	src := testenv.MemDir(t, 16<<20)
	testenv.FlatTree(t, src, 20, 300)
	dir := openTestDir(t, src)
	for i := range 300 {
		ctx, cancel := context.WithCancel(context.Background())
		at := 1 + i%50
		sink := &countSink{at: func(n int) error {
			if n == at {
				cancel()
			}
			return nil
		}}
		_, err := Walk(ctx, dir, Options{UID: -1}, sink)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("walk cancelled at entry %d: %v, want context.Canceled", at, err)
		}
	}
}

// TestWalkSinkErrorStopsAll: a sink error ends the walk with that error
// and leaves no goroutine of it running.
func TestWalkSinkErrorStopsAll(t *testing.T) {
	src := testenv.MemDir(t, 16<<20)
	testenv.FlatTree(t, src, 10, 400)
	dir := openTestDir(t, src)
	before := runtime.NumGoroutine()
	for i := range 100 {
		at := 1 + i*37
		sink := &countSink{at: func(n int) error {
			if n == at {
				return errors.New("sink full")
			}
			return nil
		}}
		_, err := Walk(context.Background(), dir, Options{UID: -1}, sink)
		if err == nil || !strings.Contains(err.Error(), "sink full") {
			t.Fatalf("walk whose sink fails at entry %d: %v, want the sink's error", at, err)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after 100 failed walks, %d before", after, before)
	}
}
