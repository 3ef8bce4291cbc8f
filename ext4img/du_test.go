//go:build linux

package ext4img

import (
	"os"
	"syscall"
)

// diskUsage is the space a file occupies on disk (st_blocks).
func diskUsage(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// nextData returns the offset of the first data at or after off (SEEK_DATA),
// or -1 when only a hole follows.
func nextData(f *os.File, off int64) int64 {
	const seekData = 3
	n, err := syscall.Seek(int(f.Fd()), off, seekData)
	if err != nil {
		return -1
	}
	return n
}
