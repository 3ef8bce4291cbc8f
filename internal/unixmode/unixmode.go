// Package unixmode converts between io/fs's FileMode and the Unix mode
// word (st_mode): twelve permission bits (setuid, setgid, sticky, then
// rwx for user, group and other) and a four-bit file type above them. It
// is one encoding in ext4's i_mode, cpio's c_mode and the mode field of
// tar (which holds the permission bits only; tar's type is its typeflag).
//
// Left out on purpose: fs.ModeIrregular, fs.ModeTemporary, fs.ModeAppend,
// fs.ModeExclusive and fs.ModeCharDevice without fs.ModeDevice have no
// Unix type; Encode gives them none (type 0).
package unixmode

import "io/fs"

// File types, the bits under TypeMask (S_IFMT in <sys/stat.h>).
const (
	TypeMask  = 0o170000 // S_IFMT
	Socket    = 0o140000 // S_IFSOCK
	Symlink   = 0o120000 // S_IFLNK
	Regular   = 0o100000 // S_IFREG
	BlockDev  = 0o060000 // S_IFBLK
	Dir       = 0o040000 // S_IFDIR
	CharDev   = 0o020000 // S_IFCHR
	NamedPipe = 0o010000 // S_IFIFO
)

// Permission bits beyond rwx.
const (
	Setuid = 0o4000 // S_ISUID
	Setgid = 0o2000 // S_ISGID
	Sticky = 0o1000 // S_ISVTX
)

// types pairs each Unix file type with its fs.FileMode type bits.
var types = [...]struct {
	unix uint32
	fs   fs.FileMode
}{
	{Regular, 0},
	{Dir, fs.ModeDir},
	{Symlink, fs.ModeSymlink},
	{CharDev, fs.ModeDevice | fs.ModeCharDevice},
	{BlockDev, fs.ModeDevice},
	{NamedPipe, fs.ModeNamedPipe},
	{Socket, fs.ModeSocket},
}

// Encode is the Unix mode word of m: its type and EncodePerm(m).
func Encode(m fs.FileMode) uint32 {
	v := EncodePerm(m)
	for _, t := range types {
		if m.Type() == t.fs {
			return v | t.unix
		}
	}
	return v
}

// EncodePerm is the permission bits (the low twelve) of m's Unix mode word.
func EncodePerm(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= Setuid
	}
	if m&fs.ModeSetgid != 0 {
		v |= Setgid
	}
	if m&fs.ModeSticky != 0 {
		v |= Sticky
	}
	return v
}

// Decode is the fs.FileMode of Unix mode word v; ok is false when v's
// type is none of the seven Unix file types (the mode then has no type
// bits).
func Decode(v uint32) (m fs.FileMode, ok bool) {
	m = DecodePerm(v)
	for _, t := range types {
		if v&TypeMask == t.unix {
			return m | t.fs, true
		}
	}
	return m, false
}

// DecodePerm is the fs.FileMode permission, setuid, setgid and sticky
// bits of the low twelve bits of v; the type bits are ignored.
func DecodePerm(v uint32) fs.FileMode {
	m := fs.FileMode(v & 0o777)
	if v&Setuid != 0 {
		m |= fs.ModeSetuid
	}
	if v&Setgid != 0 {
		m |= fs.ModeSetgid
	}
	if v&Sticky != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// Kind names m's file type for a message, with its article: "a regular
// file", "a directory", "a symbolic link", "a FIFO", "a socket", "a
// character device", "a block device".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file (" + m.Type().String() + ")"
}
