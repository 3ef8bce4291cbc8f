//go:build unix

package imagefile

import (
	"io/fs"
	"syscall"
)

// AllocatedBytes is the disk space a file takes (st_blocks), less than
// its size for a sparse image.
func AllocatedBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
