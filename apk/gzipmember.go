package apk

import (
	"bufio"
	"bytes"
	"crypto"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/gzip"
)

// A memberReader reads a stream of concatenated gzip members (the v2 .apk
// and APKINDEX.tar.gz layout) so that a gzip.Reader with Multistream(false)
// stops exactly at the end of each member: it is an io.ByteReader, so the
// decompressor takes bytes from it one at a time and never reads ahead. It
// hashes the compressed bytes of the current member in bulk, from its own
// buffer, not byte by byte.
type memberReader struct {
	src    io.Reader
	buf    []byte
	r, w   int   // buf[r:w] is unread
	hashed int   // buf[hashed:r] is consumed but not yet hashed
	base   int64 // stream offset of buf[0]
	hashes map[crypto.Hash]hash.Hash
	err    error // from src, once buf runs dry
	mark   int   // buf[mark:] is kept for rewind; -1 when not marked
}

func newMemberReader(src io.Reader) *memberReader {
	return &memberReader{src: src, buf: make([]byte, 32<<10), mark: -1}
}

// startMember begins a member at the current offset and hashes its
// compressed bytes with each of algs from here on.
func (m *memberReader) startMember(algs ...crypto.Hash) {
	m.flush()
	m.hashes = make(map[crypto.Hash]hash.Hash, len(algs))
	for _, a := range algs {
		m.hashes[a] = a.New()
	}
}

// endMember returns the digests of the compressed bytes since startMember.
func (m *memberReader) endMember() map[crypto.Hash][]byte {
	m.flush()
	sums := make(map[crypto.Hash][]byte, len(m.hashes))
	for a, h := range m.hashes {
		sums[a] = h.Sum(nil)
	}
	m.hashes = nil
	return sums
}

func (m *memberReader) flush() {
	if m.hashed < m.r {
		for _, h := range m.hashes {
			h.Write(m.buf[m.hashed:m.r])
		}
	}
	m.hashed = m.r
}

// offset is the number of bytes consumed so far.
func (m *memberReader) offset() int64 { return m.base + int64(m.r) }

func (m *memberReader) fill() error {
	if m.r < m.w {
		return nil
	}
	if m.err != nil {
		return m.err
	}
	m.flush()
	keep := m.w
	if m.mark >= 0 {
		keep = m.mark
	}
	if keep == 0 && m.w == len(m.buf) {
		if len(m.buf) >= maxPeek {
			return fmt.Errorf("the first tar header of a gzip member is more than %d bytes into it", maxPeek)
		}
		m.buf = append(m.buf, make([]byte, len(m.buf))...)
	}
	// Drop buf[:keep]; a marked region moves to the front.
	copy(m.buf, m.buf[keep:m.w])
	m.base += int64(keep)
	m.r, m.w, m.hashed = m.r-keep, m.w-keep, m.r-keep
	if m.mark >= 0 {
		m.mark = 0
	}
	for m.r == m.w && m.err == nil {
		var n int
		n, m.err = m.src.Read(m.buf[m.w:])
		m.w += n
	}
	if m.r < m.w {
		return nil
	}
	return m.err
}

// maxPeek bounds how far setMark may look ahead: gzip header fields and the
// first tar header of a member take a few KiB at most.
const maxPeek = 1 << 20

// setMark remembers the current offset so that rewind can return to it,
// after a look at what a member holds. Bytes read between setMark and
// rewind are not hashed consistently: do not use both on one member.
func (m *memberReader) setMark() { m.mark = m.r }

// rewind goes back to the mark; unmark forgets it.
func (m *memberReader) rewind() { m.r, m.hashed, m.mark = m.mark, m.mark, -1 }
func (m *memberReader) unmark() { m.mark = -1 }

// atEOF reports whether the stream has no more bytes, and any read error
// other than io.EOF.
func (m *memberReader) atEOF() (bool, error) {
	err := m.fill()
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

func (m *memberReader) ReadByte() (byte, error) {
	if err := m.fill(); err != nil {
		return 0, err
	}
	c := m.buf[m.r]
	m.r++
	return c, nil
}

func (m *memberReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := m.fill(); err != nil {
		return 0, err
	}
	n := copy(p, m.buf[m.r:m.w])
	m.r += n
	return n, nil
}

// rest returns the unread remainder of the stream for fast bulk reading;
// the memberReader must not be used afterwards.
func (m *memberReader) rest() io.Reader {
	m.flush()
	left := m.buf[m.r:m.w]
	m.r = m.w
	if m.err != nil {
		return io.MultiReader(bytes.NewReader(left), errReader{m.err})
	}
	return io.MultiReader(bytes.NewReader(left), m.src)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// openMember starts decompressing the member at the current offset of m,
// stopping at its end.
func openMember(gz *gzip.Reader, m *memberReader) error {
	if err := gz.Reset(m); err != nil {
		return err
	}
	gz.Multistream(false)
	return nil
}

// drain reads r to its end: the rest of a member after its tar entries
// (end-of-archive blocks, record padding) still counts for its hash.
func drain(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// limitReader returns an error, not io.EOF, once more than n bytes were read:
// decompressed sizes are bounded so a small hostile file cannot expand
// without end.
type limitReader struct {
	r    io.Reader
	n    int64
	what string
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Allow the EOF of an input that is exactly at the limit.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n == 0 && err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%s is larger than its limit", l.what)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// hashingBufReader is the fast path for the last part of a stream (package
// data, the body of an index): all remaining bytes pass through h in bulk,
// and the gzip decompressor gets a *bufio.Reader, which it reads without
// per-byte interface calls.
func hashingBufReader(r io.Reader, h io.Writer, count *int64) *bufio.Reader {
	return bufio.NewReaderSize(&teeCounter{r: r, h: h, n: count}, 64<<10)
}

type teeCounter struct {
	r io.Reader
	h io.Writer
	n *int64
}

func (t *teeCounter) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.h.Write(p[:n])
		*t.n += int64(n)
	}
	return n, err
}
