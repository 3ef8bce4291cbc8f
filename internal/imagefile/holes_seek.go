//go:build linux || darwin || freebsd

package imagefile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// dataRanges lists f's data regions with SEEK_DATA and SEEK_HOLE, so
// that a sparse image's holes are never read; a filesystem without them
// reports the whole file as data.
func dataRanges(f *os.File, size int64) ([]dataRange, error) {
	var rs []dataRange
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // no data past off
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return []dataRange{{off, size}}, nil
		}
		if err != nil {
			return nil, err
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		end = min(end, size)
		rs = append(rs, dataRange{start, end})
		off = end
	}
	return rs, nil
}
