//go:build unix

package imagefile

import (
	"math"

	"golang.org/x/sys/unix"
)

// freeBytes is the space an unprivileged user may still take on the
// filesystem of dir, or MaxInt64 when it cannot be told.
func freeBytes(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return math.MaxInt64
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	if free > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(free)
}
