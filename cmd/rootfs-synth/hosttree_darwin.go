package main

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

func statOf(fi fs.FileInfo) hostStat {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return hostStat{nlink: 1}
	}
	rdev := uint32(st.Rdev)
	return hostStat{
		dev: uint64(st.Dev), ino: st.Ino, nlink: uint64(st.Nlink),
		uid: st.Uid, gid: st.Gid,
		major: rdev >> 24 & 0xff, minor: rdev & 0xffffff,
	}
}

// readXattrs reads none on macOS: its attributes (com.apple.*) have no
// meaning in a Linux guest.
func readXattrs(string) (map[string][]byte, error) { return nil, nil }

func openHostFile(p string) (io.ReadCloser, error) { return os.Open(p) }
