//go:build linux || darwin

package hostfs

import (
	"io/fs"
	"syscall"
)

// StatOf returns what fi, from os.Lstat or os.Stat, knows beyond fs.FileInfo.
func StatOf(fi fs.FileInfo) Stat {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stat{Nlink: 1}
	}
	major, minor := devNumbers(uint64(st.Rdev))
	return Stat{
		Dev: uint64(st.Dev), Ino: st.Ino, Nlink: uint64(st.Nlink),
		UID: st.Uid, GID: st.Gid,
		Major: major, Minor: minor,
	}
}
