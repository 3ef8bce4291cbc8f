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
	rdev := uint64(st.Rdev)
	return Stat{
		Dev: uint64(st.Dev), Ino: st.Ino, Nlink: uint64(st.Nlink),
		UID: st.Uid, GID: st.Gid,
		// glibc's gnu_dev_major/minor encoding.
		Major: uint32((rdev>>8)&0xfff | (rdev>>32)&^0xfff),
		Minor: uint32(rdev&0xff | (rdev>>12)&^0xff),
	}
}
