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
