package ext4img

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// streamer writes blocks at increasing offsets, turning zero blocks into
// holes by seeking over them.
type streamer struct {
	out  io.WriteSeeker
	bw   *bufio.Writer
	at   int64 // offset the next buffered byte lands at
	bs   int
	zero []byte

	file      *contentReader // the regular file being written
	prefetch  *prefetcher    // opens and reads the next files ahead
	dirNode   *node          // the directory whose blocks dirBlocks holds
	dirBlocks [][]byte
}

// writeBlocks writes whole blocks starting at block start, skipping zero
// blocks.
func (s *streamer) writeBlocks(start uint32, data []byte) error {
	off := int64(start) * int64(s.bs)
	for i := 0; i < len(data); i += s.bs {
		b := data[i : i+s.bs]
		if bytes.Equal(b, s.zero) {
			continue
		}
		o := off + int64(i)
		if o != s.at {
			if err := s.bw.Flush(); err != nil {
				return err
			}
			if _, err := s.out.Seek(o, io.SeekStart); err != nil {
				return err
			}
			s.at = o
		}
		if _, err := s.bw.Write(b); err != nil {
			return err
		}
		s.at += int64(s.bs)
	}
	return nil
}

// finish flushes and makes the output exactly size bytes long: when the
// last blocks were holes, it writes the final byte.
func (s *streamer) finish(size int64) error {
	if s.at < size {
		if err := s.bw.Flush(); err != nil {
			return err
		}
		if _, err := s.out.Seek(size-1, io.SeekStart); err != nil {
			return err
		}
		s.bw.Reset(s.out)
		if _, err := s.bw.Write([]byte{0}); err != nil {
			return err
		}
	}
	return s.bw.Flush()
}

// Write writes the image to out, which must be empty or all zero where
// the image has holes (a new file is). It computes the layout if needed,
// then writes every block in on-disk order from offset 0, seeking over
// zero blocks, and calls each regular file's Content once. The image is
// Layout().Size() bytes long; out need not be an io.Writer at all past
// that, which is why this is not io.WriterTo (whose contract is to count
// the bytes written to a plain io.Writer, and which cannot leave holes).
// Errors do not name out: the caller that knows its name does.
func (w *Writer) Write(out io.WriteSeeker) error {
	l, err := w.planned()
	if err != nil {
		return err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s := &streamer{out: out, bw: bufio.NewWriterSize(out, 1<<20), bs: l.BlockSize, zero: make([]byte, l.BlockSize)}
	if err := l.write(s); err != nil {
		return err
	}
	return s.finish(l.Size())
}

// write emits the image in on-disk order.
func (l *plan) write(s *streamer) error {
	bs := l.BlockSize
	// 1. Superblock, group descriptors and reserved GDT blocks (each an
	// indirect block of the resize inode) of group 0.
	head := make([]byte, int(l.fdb+1+l.gdtBlocks+l.rsvGDT)*bs)
	l.superBlock(head[ext4format.SuperBlockOffset:], 0)
	gdt := head[int(l.fdb+1)*bs:][:int(l.gdtBlocks)*bs]
	l.groupDescs(gdt)
	rl := l.resizeLayout()
	for i := range l.rsvGDT {
		rl.IndBlock(head[int(rl.ReservedBlock(i))*bs:][:bs], i)
	}
	if err := s.writeBlocks(0, head); err != nil {
		return err
	}

	// 2. Everything else: backups, bitmaps, inode tables, journal,
	// directories, files, extent trees, xattr blocks, sorted by block.
	sort.Slice(l.segs, func(i, j int) bool { return l.segs[i].start < l.segs[j].start })
	buf := make([]byte, 1<<20)
	s.prefetch = startPrefetch(l.byIno[ext4format.RootIno], l.opts.Files)
	defer func() {
		if s.file != nil {
			s.file.discard()
		}
		s.prefetch.stop()
	}()
	writeSeg := func(sg segment) error {
		switch sg.kind {
		case segBackup: // the reserve's copies stay zero, as mke2fs leaves them
			b := make([]byte, int(sg.len)*bs)
			l.superBlock(b, uint16(sg.idx))
			copy(b[bs:], gdt)
			return s.writeBlocks(sg.start, b)
		case segBlockBitmap:
			return s.writeBlocks(sg.start, l.blockBitmap(buf[:bs], sg.idx))
		case segInodeBitmap:
			return s.writeBlocks(sg.start, l.inodeBitmap(buf[:bs], sg.idx))
		case segInodeTable:
			return l.writeInodeTable(s, sg, buf)
		case segXattr:
			b := append(buf[:0], sg.x.data...)
			var h ext4format.XattrHeader
			h.Unmarshal(b)
			h.Refcount = sg.x.refs
			h.Marshal(b)
			if l.csum {
				h.Checksum = ext4format.XattrBlockChecksum(l.csumSeed, uint64(sg.start), b)
				h.Marshal(b)
			}
			return s.writeBlocks(sg.start, b)
		case segTree:
			pl, ino := l.journal, uint32(ext4format.JournalIno)
			if sg.n != nil {
				pl, ino = &l.plans[sg.n.ino], sg.n.ino
			}
			extentTreeBlock(buf[:bs], pl, sg.idx, bs)
			if l.csum {
				ext4format.SetExtentTail(buf[:bs], ext4format.InodeSeed(l.csumSeed, ino, 0))
			}
			return s.writeBlocks(sg.start, buf[:bs])
		case segData:
			return l.writeData(s, sg, buf)
		case segResize:
			l.resizeLayout().DindBlock(buf[:bs])
			return s.writeBlocks(sg.start, buf[:bs])
		}
		return nil
	}
	// The fixed segments (backups, bitmaps, inode tables) merge with the
	// inodes' blocks, which come in block order already.
	fixed := l.segs
	err := l.eachInodeSegment(func(sg segment) error {
		for len(fixed) > 0 && fixed[0].start < sg.start {
			if err := writeSeg(fixed[0]); err != nil {
				return err
			}
			fixed = fixed[1:]
		}
		return writeSeg(sg)
	})
	if err != nil {
		return err
	}
	for _, sg := range fixed {
		if err := writeSeg(sg); err != nil {
			return err
		}
	}
	// 3. Empty files have no blocks; their Content must be empty too.
	return checkEmptyFiles(l.byIno[ext4format.RootIno])
}

// checkEmptyFiles checks that the empty files below root with a Content
// have none, in inode order (eachFile names them as it goes, where n.path
// would search the tree for each).
func checkEmptyFiles(root *node) error {
	return eachFile(root, func(f fileRef) error {
		if f.n.size > 0 || f.n.content() == nil {
			return nil
		}
		r, err := openContent(f, nil)
		if err != nil {
			return err
		}
		return r.close()
	})
}

// writeData writes one run of an inode's data blocks.
func (l *plan) writeData(s *streamer, sg segment, buf []byte) error {
	bs := l.BlockSize
	n := sg.n
	switch {
	case n == nil: // the journal: its superblock, then zeros
		if sg.idx == 0 {
			b := buf[:bs]
			clear(b)
			ext4format.JournalSuperBlock{
				Header:    ext4format.JournalHeader{Magic: ext4format.JournalMagic, BlockType: ext4format.JournalSuperBlockV2},
				BlockSize: uint32(bs), MaxLen: l.journal.dataBlocks,
				First: 1, Sequence: 1, // the log starts after this block
				UUID: l.UUID, NrUsers: 1,
			}.Marshal(b)
			return s.writeBlocks(sg.start, b)
		}
		return nil
	case n.mode.IsDir():
		if s.dirNode != n {
			s.dirBlocks = nil // the previous directory's, before the next is encoded
			s.dirNode, s.dirBlocks = n, encodeDir(n, l.plans[n.ino].extra().htree, l.dirGeom, l.plans[n.ino].dataBlocks, ext4format.InodeSeed(l.csumSeed, n.ino, 0))
		}
		first := logicalStarts(l.plans[n.ino].runs())[sg.idx]
		for i := range sg.len {
			if err := s.writeBlocks(sg.start+i, s.dirBlocks[first+i]); err != nil {
				return err
			}
		}
		return nil
	case n.mode.Type() == fs.ModeSymlink:
		b := buf[:bs]
		clear(b)
		copy(b, n.linkname())
		return s.writeBlocks(sg.start, b)
	}
	if sg.idx == 0 {
		r, err := s.prefetch.next(n)
		if err != nil {
			return err
		}
		s.file = r
	}
	file := s.file
	chunk := len(buf) / bs * bs
	for i := uint32(0); i < sg.len; {
		k := min(uint32(chunk/bs), sg.len-i)
		b := buf[:int(k)*bs]
		if err := file.read(b); err != nil {
			s.file = nil
			return err
		}
		if err := s.writeBlocks(sg.start+i, b); err != nil {
			return err
		}
		i += k
	}
	if sg.idx == len(l.plans[n.ino].runs())-1 {
		s.file = nil
		return file.close()
	}
	return nil
}

// contentReader reads exactly a file's Size bytes from its Content, or
// from Options.Files.
type contentReader struct {
	n    *node
	path string // n's name in errors
	rc   io.ReadCloser
	left int64
	err  error // opening or reading ahead failed: reported when the writer gets here

	buf  []byte // read-ahead copy of the content, returned to free on close
	free chan []byte
}

// openContent opens f's content: its Content, else f.path in files,
// which must be a regular file of the size added.
func openContent(f fileRef, files fs.FS) (*contentReader, error) {
	n := f.n
	if open := n.content(); open != nil {
		rc, err := open()
		if err != nil {
			return nil, fmt.Errorf("opening %q: %w", f.path, err)
		}
		return &contentReader{n: n, path: f.path, rc: rc, left: n.size}, nil
	}
	if files == nil {
		return nil, fmt.Errorf("reading %q: no content for %d bytes", f.path, n.size)
	}
	rc, err := files.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("opening %q: %w", f.path, err)
	}
	fi, err := rc.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("opening %q: %w", f.path, err)
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("opening %q: no longer a regular file (%v) in Options.Files", f.path, fi.Mode().Type())
	case fi.Size() != n.size:
		err = fmt.Errorf("opening %q: %d bytes, was %d when added", f.path, fi.Size(), n.size)
	}
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &contentReader{n: n, path: f.path, rc: rc, left: n.size}, nil
}

// read fills b from the content, padding the tail past Size with zeros.
func (c *contentReader) read(b []byte) error {
	k := min(int64(len(b)), c.left)
	got, err := io.ReadFull(c.rc, b[:k])
	if err != nil {
		c.rc.Close()
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %q: content ends after %d of %d bytes", c.path, c.n.size-c.left+int64(got), c.n.size)
		}
		return fmt.Errorf("reading %q: %w", c.path, err)
	}
	c.left -= k
	clear(b[k:])
	return nil
}

// close checks that the content has no bytes past Size and closes it.
func (c *contentReader) close() error {
	var one [1]byte
	n, err := io.ReadFull(c.rc, one[:])
	cerr := c.rc.Close()
	c.recycle()
	switch {
	case n > 0:
		return fmt.Errorf("reading %q: content is longer than %d bytes", c.path, c.n.size)
	case err != nil && err != io.EOF:
		return fmt.Errorf("reading %q: %w", c.path, err)
	case cerr != nil:
		return fmt.Errorf("closing %q: %w", c.path, cerr)
	}
	return nil
}

// writeInodeTable writes group sg.idx's inode table, skipping blocks of
// unused inodes.
func (l *plan) writeInodeTable(s *streamer, sg segment, buf []byte) error {
	bs := l.BlockSize
	perBlock := uint32(bs / inodeSize)
	first := uint32(sg.idx)*l.InodesPerGroup + 1
	if first > l.lastIno {
		return nil // all zero: a hole
	}
	usedBlocks := min((l.lastIno-first)/perBlock+1, l.itb)
	chunkBlocks := uint32(len(buf) / bs)
	for b := uint32(0); b < usedBlocks; b += chunkBlocks {
		k := min(chunkBlocks, usedBlocks-b)
		chunk := buf[:int(k)*bs]
		clear(chunk)
		for i := range k * perBlock {
			ino := first + (b*perBlock + i)
			if ino <= l.lastIno {
				l.encodeInode(ino, chunk[int(i)*inodeSize:])
			}
		}
		if err := s.writeBlocks(sg.start+b, chunk); err != nil {
			return err
		}
	}
	return nil
}
