package imagefile

import (
	"bytes"
	"io"
)

// holeBlock is the unit of sparseness: a zero run this long, aligned,
// becomes a hole (ext4's block size, and the page size most filesystems
// allocate in).
const holeBlock = 4096

// A SparseWriter writes a stream from outside (a pulled layer, a
// decompressed image) into an io.WriteSeeker from offset 0,
// seeking over every aligned all-zero block instead of writing it, so
// that a file that was empty gets holes there. Close makes the output as
// long as what was written: when it ended in a hole, it writes the last
// byte.
type SparseWriter struct {
	out     io.WriteSeeker
	buf     []byte // a partial block
	at, end int64  // the output's offset, and the stream's length so far
	// data counts the bytes written (not holes); more than the
	// DiskBudget of dir, the output's directory, is a BudgetError.
	data, budget int64
	dir          string
}

// NewSparseWriter returns the SparseWriter into out, an empty file in the
// directory dir, whose DiskBudget bounds the data written.
func NewSparseWriter(out io.WriteSeeker, dir string) *SparseWriter {
	return &SparseWriter{out: out, buf: make([]byte, 0, holeBlock), budget: DiskBudget(dir), dir: dir}
}

// write writes b at the output's offset, within the budget.
func (s *SparseWriter) write(b []byte) error {
	if s.data += int64(len(b)); s.data > s.budget {
		return &BudgetError{Dir: s.dir, Budget: s.budget}
	}
	_, err := s.out.Write(b)
	return err
}

func (s *SparseWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(s.buf) == 0 && len(p) >= holeBlock {
			// Whole blocks straight from p, without a copy.
			k := len(p) / holeBlock * holeBlock
			if err := s.blocks(p[:k]); err != nil {
				return 0, err
			}
			p = p[k:]
			continue
		}
		c := copy(s.buf[len(s.buf):holeBlock], p)
		s.buf = s.buf[:len(s.buf)+c]
		p = p[c:]
		if len(s.buf) == holeBlock {
			if err := s.blocks(s.buf); err != nil {
				return 0, err
			}
			s.buf = s.buf[:0]
		}
	}
	return n, nil
}

// blocks writes whole blocks, runs of data at once, seeking over zeros.
func (s *SparseWriter) blocks(b []byte) error {
	for len(b) > 0 {
		k := holeBlock
		if isZero(b[:holeBlock]) {
			for k < len(b) && isZero(b[k:k+holeBlock]) {
				k += holeBlock
			}
			s.end += int64(k)
		} else {
			for k < len(b) && !isZero(b[k:k+holeBlock]) {
				k += holeBlock
			}
			if s.at != s.end {
				if _, err := s.out.Seek(s.end, io.SeekStart); err != nil {
					return err
				}
			}
			if err := s.write(b[:k]); err != nil {
				return err
			}
			s.end += int64(k)
			s.at = s.end
		}
		b = b[k:]
	}
	return nil
}

// Close writes the last partial block and, when the stream ended in a
// hole, its last byte, so the output is exactly as long as the stream.
func (s *SparseWriter) Close() error {
	tail := s.buf
	s.buf = s.buf[:0]
	if len(tail) > 0 && !isZero(tail) {
		if s.at != s.end {
			if _, err := s.out.Seek(s.end, io.SeekStart); err != nil {
				return err
			}
		}
		if err := s.write(tail); err != nil {
			return err
		}
		s.end += int64(len(tail))
		s.at = s.end
		return nil
	}
	s.end += int64(len(tail))
	if s.at == s.end {
		return nil
	}
	if _, err := s.out.Seek(s.end-1, io.SeekStart); err != nil {
		return err
	}
	if _, err := s.out.Write([]byte{0}); err != nil {
		return err
	}
	s.at = s.end
	return nil
}

// Size is the length of the stream written so far (after Close, all of it).
func (s *SparseWriter) Size() int64 { return s.end + int64(len(s.buf)) }

var zeroBlock [holeBlock]byte

func isZero(b []byte) bool {
	return bytes.Equal(b, zeroBlock[:len(b)])
}
