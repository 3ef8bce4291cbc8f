//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// heapSink is a treeSink that keeps nothing: it counts entries and, every
// `every` of them, the live heap after a collection, keeping the largest.
type heapSink struct {
	every, entries int
	maxHeap        uint64
}

func (s *heapSink) Add(ext4img.Entry) error { s.sample(); return nil }
func (s *heapSink) Link(_, _ string) error  { s.sample(); return nil }

func (s *heapSink) sample() {
	s.entries++
	if s.entries%s.every == 0 {
		s.maxHeap = max(s.maxHeap, liveHeap())
	}
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
	for d := range dirs {
		dir := filepath.Join(src, fmt.Sprintf("dir%03d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range perDir {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.so", f)), []byte{byte(f)}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir, err := openHostDir(src)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	base := liveHeap()
	sink := &heapSink{every: 5000}
	tree, err := walkHostTree(context.Background(), dir, hostTreeOptions{UID: -1}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + dirs*(1+perDir); sink.entries != want || tree.Entries != want {
		t.Fatalf("walk gave the sink %d entries and counted %d, want %d", sink.entries, tree.Entries, want)
	}
	if grown := int64(sink.maxHeap) - int64(base); grown > 8<<20 {
		t.Errorf("walking %d entries grew the live heap by %.1f MiB (%.0f bytes per entry), want at most 8 MiB: the walk holds the tree",
			sink.entries, float64(grown)/(1<<20), float64(grown)/float64(sink.entries))
	}
}

// TestMkfsMillionEntries: the real binary, run as an ordinary user,
// writes a 1,000,000-entry tree with a peak RSS under 256 MiB (before
// the walk streamed into the writer and the writer shrank: 1,046 MiB),
// and the image is e2fsck-clean. Most files are empty so the tree is
// cheap to make and the image small; their nodes cost the writer what
// any file's does. bench/mkfs-vs-mke2fs.sh measures a 1,000,000-file
// tree with 500 MB of contents against mke2fs -d.
func TestMkfsMillionEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 1,000,000 files")
	}
	const dirs, perDir = 1000, 999 // 1,000,000 entries with the directories, and the root
	// The tree on tmpfs (a page per file with content, and the kernel's
	// inodes), the 340 MB image (sparse: its inode tables) on disk.
	src := filepath.Join(testenv.MemDir(t, 256<<20), "tree")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, dirs)
	for d := range dirs {
		dir := filepath.Join(src, fmt.Sprintf("dir%04d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for f := range perDir {
				var data []byte
				if f%100 == 0 {
					data = []byte(dir) // every hundredth file has content
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%04d.so", f)), data, 0o644); err != nil {
					errs <- err
					return
				}
			}
		})
		if d%2 == 1 {
			wg.Wait() // two directories at a time
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	img := filepath.Join(testenv.WorldDir(t), "million.img")
	c := testenv.Unprivileged(t, testenv.Binary(t), "mkfs", src, "-o", img)
	c.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	rss, out := peakRSS(t, c) // fails the test if mkfs fails
	if !strings.Contains(out, "1000001 entries") {
		t.Errorf("rootfs-synth mkfs said %q, want 1000001 entries (the root too)", out)
	}
	t.Logf("peak RSS %.1f MiB for 1,000,000 entries", float64(rss)/(1<<20))
	if rss >= 256<<20 {
		t.Errorf("rootfs-synth mkfs of 1,000,000 entries peaked at %.1f MiB of RSS, want under 256 MiB", float64(rss)/(1<<20))
	}
	if err := ext4check.Fsck(t, img); err != nil {
		t.Fatal(err)
	}
}
