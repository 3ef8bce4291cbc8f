package ext4img

import (
	"io"
	"io/fs"
	"time"
)

// Entry describes one path of the tree to write. It is a plain value, like
// archive/tar's Header: the Writer copies what it needs when the entry is
// added, except Content, which it calls later (see Entry.Content).
type Entry struct {
	// Path is slash-separated and relative to the root, without a leading
	// slash: "etc/passwd". The empty string (or ".") names the root directory.
	Path string

	// Mode holds the type (fs.ModeDir, fs.ModeSymlink, fs.ModeDevice,
	// fs.ModeDevice|fs.ModeCharDevice, fs.ModeNamedPipe, fs.ModeSocket; none
	// for a regular file), the permission bits and fs.ModeSetuid,
	// fs.ModeSetgid and fs.ModeSticky.
	Mode fs.FileMode

	UID, GID uint32
	ModTime  time.Time

	// Size is the length of a regular file's content in bytes.
	Size int64

	// Linkname is a symbolic link's target (at most 4095 bytes).
	Linkname string

	// Devmajor and Devminor are a device node's numbers.
	Devmajor, Devminor uint32

	// Xattrs are extended attributes by full name ("security.capability",
	// "user.comment", "trusted.x").
	Xattrs map[string][]byte

	// Content opens a regular file's content. The Writer calls it once per
	// Write, in on-disk order, reads exactly Size bytes and closes the
	// reader; a reader that ends early or has more is an error naming the
	// path. nil means Size zero bytes. Calls come from the Writer's own
	// goroutines, several at once and ahead of the write position (a bounded
	// read-ahead, see prefetch.go), so Content must be safe to call
	// concurrently with other entries' Content.
	Content func() (io.ReadCloser, error)
}
