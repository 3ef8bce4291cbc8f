package ext4check

import (
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
)

// Fsck checks img with `e2fsck -fn` and `e2fsck -fy` on a sparse copy,
// which must change nothing (see e2fsck.Check). The error quotes what
// e2fsck said.
func Fsck(tb testing.TB, img string) error {
	tb.Helper()
	return e2fsck.Check(tb, img)
}

// FsckInPlace is Fsck for a throwaway image too big to copy cheaply: e2fsck
// -fy runs on img itself (see e2fsck.CheckInPlace).
func FsckInPlace(tb testing.TB, img string) error {
	tb.Helper()
	return e2fsck.CheckInPlace(tb, img)
}
