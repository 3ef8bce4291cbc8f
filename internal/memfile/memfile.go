// Package memfile is an in-memory io.WriteSeeker, so that tests can write
// an image with ext4img.Writer.Write and look at its bytes without a
// temporary file. It imports nothing of this module, so ext4img's own
// (internal) tests can use it too.
package memfile

import (
	"errors"
	"io"
)

// File is an in-memory io.WriteSeeker; ranges skipped by Seek and never
// written read as zero. The zero value is an empty file.
type File struct {
	b   []byte
	off int64
}

func (f *File) Write(p []byte) (int, error) {
	if end := f.off + int64(len(p)); end > int64(len(f.b)) {
		f.b = append(f.b, make([]byte, end-int64(len(f.b)))...)
	}
	copy(f.b[f.off:], p)
	f.off += int64(len(p))
	return len(p), nil
}

func (f *File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += f.off
	case io.SeekEnd:
		off += int64(len(f.b))
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	f.off = off
	return off, nil
}

// Bytes returns what was written, up to the furthest byte written. It is
// f's own buffer, not a copy: valid until the next Write.
func (f *File) Bytes() []byte { return f.b }
