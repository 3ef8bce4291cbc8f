package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory. An image is laid out from metadata held in memory (ext4img
// keeps about 130 bytes per entry of a walked tree, a build's tree and
// package manifests some 600 more; contents are streamed), so a tree of a
// million entries has some 130 MB live when it is written. The Go
// runtime lets the heap grow to twice what was live at the last
// collection (GOGC=100) before it collects again, which would put the
// peak near 300 MiB for data that needs half of it. keepHeapNearLive
// therefore sets a soft memory limit (debug.SetMemoryLimit) of the live
// heap plus a half, but at least heapFloor, and follows the live heap as
// it grows: small trees run as they would without it (their heap never
// reaches the floor), big ones collect more often instead of doubling,
// and a tree far bigger than a million entries still gets room to work
// in rather than a collector running all the time against a fixed limit.
// GOMEMLIMIT or GOGC in the environment turn it off.
//
// Measured (bench/mkfs-vs-mke2fs.sh, bench/build.sh): a 1,000,000-entry
// mkfs peaks at 195-208 MiB (286 without), in about the same time; a 4x
// balanced build (106,000 entries, 68 MB live at most) at 139 MiB (168
// without; a fixed GOMEMLIMIT of 96 MiB makes it 40 % slower).

// heapFloor is the smallest limit keepHeapNearLive sets.
const heapFloor = 128 << 20

// heapPoll is how often the limit follows the live heap; it changes only
// when a collection ends, a few times a second at most in a big build.
const heapPoll = 100 * time.Millisecond

// keepHeapNearLive starts following the live heap with the memory limit,
// for the rest of the process.
func keepHeapNearLive() {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		live := int64(0)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = int64(sample[0].Value.Uint64())
		}
		debug.SetMemoryLimit(max(heapFloor, live+live/2))
	}
	set()
	go func() {
		for range time.Tick(heapPoll) {
			set()
		}
	}()
}
