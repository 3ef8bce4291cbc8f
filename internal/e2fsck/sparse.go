package e2fsck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
)

// CopySparse copies src to dst, leaving holes where src has holes (found
// with SEEK_DATA/SEEK_HOLE where the OS has them) and 64 KiB runs of zeros.
func CopySparse(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	size := fi.Size()
	buf := make([]byte, 64<<10)
	for off := int64(0); off < size; {
		start, end := off, size
		if runtime.GOOS != "linux" {
			// whence 3 and 4 mean other things elsewhere (swapped on macOS)
		} else if d, err := in.Seek(off, seekData); err == nil {
			start = d
			if h, err := in.Seek(d, seekHole); err == nil {
				end = h
			}
		} else if errors.Is(err, syscall.ENXIO) {
			break // only a hole remains
		}
		if err := copyRun(out, in, buf, start, end); err != nil {
			out.Close()
			return err
		}
		off = end
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

const seekData, seekHole = 3, 4 // lseek whence values on Linux

// copyRun copies [start, end) of in to the same offsets of out, skipping
// all-zero chunks.
func copyRun(out, in *os.File, buf []byte, start, end int64) error {
	for off := start; off < end; {
		n := int64(len(buf))
		if end-off < n {
			n = end - off
		}
		b := buf[:n]
		if _, err := in.ReadAt(b, off); err != nil {
			return err
		}
		if !allZero(b) {
			if _, err := out.WriteAt(b, off); err != nil {
				return err
			}
		}
		off += n
	}
	return nil
}

var zeros = make([]byte, 64<<10)

func allZero(b []byte) bool { return bytes.Equal(b, zeros[:len(b)]) }

// Diff compares two images of the same size and returns where they first
// differ, or "" when they are the same apart from s_wtime, s_mnt_count,
// s_lastcheck, their _hi bytes, s_kbytes_written and s_checksum in the
// primary superblock (what a clean e2fsck -fy run writes, also after the
// image was mounted). Ranges that are holes in both are skipped.
func Diff(a, b string) (string, error) {
	fa, err := os.Open(a)
	if err != nil {
		return "", err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return "", err
	}
	defer fb.Close()
	sa, err := fa.Stat()
	if err != nil {
		return "", err
	}
	sb, err := fb.Stat()
	if err != nil {
		return "", err
	}
	if sa.Size() != sb.Size() {
		return fmt.Sprintf("sizes %d and %d", sa.Size(), sb.Size()), nil
	}
	const chunk = 1 << 20
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); off < sa.Size(); {
		da, db := nextData(fa, off), nextData(fb, off)
		if da < 0 && db < 0 {
			break
		}
		if next := min(uint64(da), uint64(db)) &^ (chunk - 1); int64(next) > off { // -1 is the largest uint64
			off = int64(next)
			continue
		}
		na, err := fa.ReadAt(ba, off)
		if err != nil && err != io.EOF {
			return "", err
		}
		nb, err := fb.ReadAt(bb, off)
		if err != nil && err != io.EOF {
			return "", err
		}
		if off == 0 {
			for _, r := range [][2]int{{1024 + 0x30, 4}, {1024 + 0x34, 2}, {1024 + 0x40, 4}, {1024 + 0x178, 8}, {1024 + 0x274, 3}, {1024 + 0x3FC, 4}} {
				clear(ba[r[0] : r[0]+r[1]])
				clear(bb[r[0] : r[0]+r[1]])
			}
		}
		if i := mismatch(ba[:na], bb[:nb]); i >= 0 {
			return fmt.Sprintf("first difference at byte %d", off+int64(i)), nil
		}
		off += chunk
	}
	return "", nil
}

// mismatch is the index of the first byte where a and b differ, or -1.
func mismatch(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// nextData is the offset of the first data at or after off (SEEK_DATA on
// Linux), or -1 when only a hole follows. Where that is not known it is off
// itself: comparing zeros costs time, skipping data would hide a change.
func nextData(f *os.File, off int64) int64 {
	if runtime.GOOS != "linux" {
		return off
	}
	d, err := f.Seek(off, seekData)
	switch {
	case errors.Is(err, syscall.ENXIO):
		return -1
	case err != nil:
		return off
	}
	return d
}
