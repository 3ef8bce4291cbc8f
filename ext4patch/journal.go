package ext4patch

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// journal is the image's jbd2 journal (inode 8): where its blocks lie and
// its superblock.
type journal struct {
	exts     []extent // the journal inode's extents, from logical block 0 without a hole
	sb       ext4format.JournalSuperBlock
	raw      []byte // block 0 as read
	incompat uint32
	csum     bool // v2 or v3 checksums
	seed     uint32
}

// journalIncompatOK are the log features the patcher reads; of them it
// writes what the journal declares, and never ASYNC_COMMIT.
const journalIncompatOK = ext4format.JournalIncompatRevoke | ext4format.JournalIncompat64bit |
	ext4format.JournalIncompatAsync | ext4format.JournalIncompatCsumV2 | ext4format.JournalIncompatCsumV3

func (im *Image) openJournal() (*journal, error) {
	n, _, err := im.inode(ext4format.JournalIno)
	if err != nil {
		return nil, err
	}
	exts, _, err := im.extents(ext4format.JournalIno, n)
	if err != nil {
		return nil, err
	}
	j := &journal{exts: exts}
	mapped := uint64(0)
	for _, x := range exts {
		if uint64(x.logical) != mapped {
			return nil, errors.New("the journal inode has a hole")
		}
		mapped += uint64(x.len)
	}
	if mapped < 2 {
		return nil, errors.New("the journal inode maps no log")
	}
	if j.raw, err = im.readDisk(j.block(0)); err != nil {
		return nil, err
	}
	j.sb.Unmarshal(j.raw)
	s := &j.sb
	if s.Header.BlockType == ext4format.JournalSuperBlockV2 {
		j.incompat = s.FeatureIncompat
	}
	j.csum = j.incompat&(ext4format.JournalIncompatCsumV2|ext4format.JournalIncompatCsumV3) != 0
	switch {
	case s.Header.Magic != ext4format.JournalMagic:
		return nil, fmt.Errorf("bad magic %#x", s.Header.Magic)
	case s.Header.BlockType != ext4format.JournalSuperBlockV2 && s.Header.BlockType != ext4format.JournalSuperBlockV1:
		return nil, fmt.Errorf("superblock type %d", s.Header.BlockType)
	case int64(s.BlockSize) != im.bs || uint64(s.MaxLen) > mapped || s.First == 0 || s.First >= s.MaxLen:
		return nil, errors.New("geometry does not match the journal inode")
	case s.Start != 0 && (s.Start < s.First || s.Start >= s.MaxLen):
		return nil, fmt.Errorf("the log starts at block %d, outside %d..%d", s.Start, s.First, s.MaxLen-1)
	case s.NrUsers > 1:
		return nil, fmt.Errorf("shared by %d filesystems", s.NrUsers)
	case s.Errno != 0:
		return nil, fmt.Errorf("it records error %d (s_errno; run e2fsck)", int32(s.Errno))
	case j.incompat&ext4format.JournalIncompatFastCommit != 0:
		return nil, errors.New("fast_commit is not supported")
	case j.incompat&^journalIncompatOK != 0:
		return nil, fmt.Errorf("unknown features %#x", j.incompat&^journalIncompatOK)
	case s.Header.BlockType == ext4format.JournalSuperBlockV2 && s.FeatureCompat&ext4format.JournalCompatChecksum != 0:
		return nil, errors.New("v1 commit checksums are not supported")
	case j.incompat&ext4format.JournalIncompatCsumV2 != 0 && j.incompat&ext4format.JournalIncompatCsumV3 != 0:
		return nil, errors.New("both v2 and v3 checksums")
	}
	if j.csum {
		if s.ChecksumType != ext4format.JournalChecksumCRC32c {
			return nil, fmt.Errorf("checksum type %d", s.ChecksumType)
		}
		if got := ext4format.JournalSuperBlockChecksum(j.raw); got != s.Checksum {
			return nil, fmt.Errorf("superblock checksum %#x, computed %#x", s.Checksum, got)
		}
		j.seed = ext4format.UUIDSeed(s.UUID)
	}
	return j, nil
}

func (j *journal) needsRecovery() bool { return j.sb.Start != 0 }

// block is the physical block of journal block p, which openJournal
// found mapped (p < s_maxlen).
func (j *journal) block(p uint32) uint64 {
	i, _ := slices.BinarySearchFunc(j.exts, p, func(x extent, p uint32) int {
		switch {
		case p < x.logical:
			return 1
		case p >= x.logical+x.len:
			return -1
		}
		return 0
	})
	x := j.exts[i]
	return x.phys + uint64(p-x.logical)
}

// owns reports whether physical block nr is one of the journal's.
func (j *journal) owns(nr uint64) bool {
	for _, x := range j.exts {
		if nr >= x.phys && nr < x.phys+uint64(x.len) {
			return true
		}
	}
	return false
}

// next is the log block after b, wrapping.
func (j *journal) next(b uint32) uint32 {
	if b+1 >= j.sb.MaxLen {
		return j.sb.First
	}
	return b + 1
}

// superBlock encodes the journal superblock with sequence and start.
func (j *journal) superBlock(sequence, start uint32) []byte {
	j.sb.Sequence, j.sb.Start = sequence, start
	b := append([]byte(nil), j.raw...)
	j.sb.Marshal(b)
	if j.csum {
		j.sb.Checksum = ext4format.JournalSuperBlockChecksum(b)
		j.sb.Marshal(b)
	}
	return b
}

// blockWrite is one block to write: a block number and its content.
type blockWrite struct {
	nr   uint64
	data []byte
}

// transaction lays out transaction seq logging blocks: descriptor blocks
// with their tags, the blocks (escaped), a commit block; as writes to the
// journal's blocks from s_first on.
func (j *journal) transaction(seq uint32, blocks []blockWrite, commitTime time.Time) ([]blockWrite, error) {
	bs := len(j.raw)
	tagBytes := ext4format.JournalTagBytes(j.incompat)
	space := bs - ext4format.JournalHeaderSize
	if j.csum {
		space -= ext4format.JournalBlockTailSize
	}
	perDesc := 1 + (space-tagBytes-ext4format.JournalUUIDSize)/tagBytes
	ndesc := (len(blocks) + perDesc - 1) / perDesc
	if total := ndesc + len(blocks) + 1; total > int(j.sb.MaxLen-j.sb.First) {
		return nil, fmt.Errorf("the patch needs %d log blocks, the journal has %d", total, j.sb.MaxLen-j.sb.First)
	}
	var out []blockWrite
	pos := j.sb.First
	emit := func(b []byte) {
		out = append(out, blockWrite{j.block(pos), b})
		pos = j.next(pos)
	}
	for start := 0; start < len(blocks); start += perDesc {
		chunk := blocks[start:min(len(blocks), start+perDesc)]
		desc := make([]byte, bs)
		ext4format.JournalHeader{Magic: ext4format.JournalMagic, BlockType: ext4format.JournalDescriptorBlock, Sequence: seq}.Marshal(desc)
		off := ext4format.JournalHeaderSize
		logged := make([][]byte, len(chunk))
		for i, w := range chunk {
			b := append([]byte(nil), w.data...)
			tag := ext4format.JournalTag{BlockNr: w.nr}
			if be32(b) == ext4format.JournalMagic {
				tag.Flags |= ext4format.JournalTagEscape
				clear(b[:4])
			}
			if i > 0 {
				tag.Flags |= ext4format.JournalTagSameUUID
			}
			if i == len(chunk)-1 {
				tag.Flags |= ext4format.JournalTagLast
			}
			if j.csum {
				tag.Checksum = ext4format.JournalTagChecksum(j.seed, seq, b)
			}
			tag.Marshal(desc[off:], j.incompat)
			off += tagBytes
			if i == 0 {
				copy(desc[off:], j.sb.UUID[:])
				off += ext4format.JournalUUIDSize
			}
			logged[i] = b
		}
		if j.csum {
			putBE32(desc[bs-4:], ext4format.JournalBlockTailChecksum(j.seed, desc))
		}
		emit(desc)
		for _, b := range logged {
			emit(b)
		}
	}
	commit := make([]byte, bs)
	ext4format.JournalCommit{
		Header:    ext4format.JournalHeader{Magic: ext4format.JournalMagic, BlockType: ext4format.JournalCommitBlock, Sequence: seq},
		CommitSec: uint64(commitTime.Unix()), CommitNsec: uint32(commitTime.Nanosecond()),
	}.Marshal(commit)
	if j.csum {
		putBE32(commit[0x10:], ext4format.JournalCommitChecksum(j.seed, commit))
	}
	emit(commit)
	return out, nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func putBE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// replay replays the log as the kernel's and e2fsck's recovery do (three
// passes: SCAN for the last committed transaction, checking every tagged
// block's target, REVOKE, REPLAY), then marks the journal empty and
// clears needs_recovery.
func (im *Image) replay() error {
	j := im.jnl
	if j.needsRecovery() {
		end, err := j.pass(im, 0, nil)
		if err != nil {
			return err
		}
		revoked := map[uint64]uint32{}
		if _, err := j.pass(im, end, func(seq uint32, b []byte, _ *blockWrite) error {
			if b == nil {
				return nil
			}
			count := int(be32(b[12:]))
			size := 4
			if j.incompat&ext4format.JournalIncompat64bit != 0 {
				size = 8
			}
			if count > len(b) {
				return errors.New("corrupt revoke block")
			}
			for off := ext4format.JournalRevokeHeaderSize; off+size <= count; off += size {
				nr := uint64(be32(b[off:]))
				if size == 8 {
					nr = nr<<32 | uint64(be32(b[off+4:]))
				}
				revoked[nr] = max(revoked[nr], seq)
			}
			return nil
		}); err != nil {
			return err
		}
		// Only committed transactions are walked: each block is written
		// as read, none held.
		if _, err := j.pass(im, end, func(seq uint32, _ []byte, w *blockWrite) error {
			if w == nil {
				return nil
			}
			if r, ok := revoked[w.nr]; ok && r >= seq {
				return nil
			}
			_, err := im.f.WriteAt(w.data, int64(w.nr)*im.bs)
			return err
		}); err != nil {
			return err
		}
		if err := im.f.Sync(); err != nil {
			return err
		}
		if _, err := im.f.WriteAt(j.superBlock(end+1, 0), int64(j.block(0))*im.bs); err != nil {
			return err
		}
		if err := im.f.Sync(); err != nil {
			return err
		}
	}
	return im.setRecoverOnDisk(false)
}

// pass walks the log from s_start and s_sequence up to (not including)
// transaction end (0: as far as transactions are committed, which it
// returns), giving fn each revoke block (w nil) and each tagged block as
// read (b nil). It reads at most the log's s_maxlen-s_first blocks, so
// a log that wraps onto itself ends, and refuses a tag whose target lies
// outside the filesystem or in the journal.
func (j *journal) pass(im *Image, end uint32, fn func(seq uint32, b []byte, w *blockWrite) error) (uint32, error) {
	seq, pos := j.sb.Sequence, j.sb.Start
	tagBytes := ext4format.JournalTagBytes(j.incompat)
	budget := j.sb.MaxLen - j.sb.First
	advance := func() error {
		if budget == 0 {
			return fmt.Errorf("transaction %d: the log runs on past its %d blocks", seq, j.sb.MaxLen-j.sb.First)
		}
		budget--
		pos = j.next(pos)
		return nil
	}
	read := func(p uint32) ([]byte, error) { return im.readDisk(j.block(p)) }
	for end == 0 || seq != end {
		b, err := read(pos)
		if err != nil {
			return 0, err
		}
		var h ext4format.JournalHeader
		h.Unmarshal(b)
		if h.Magic != ext4format.JournalMagic || h.Sequence != seq {
			if end != 0 {
				return 0, fmt.Errorf("transaction %d ends early", seq)
			}
			break
		}
		switch h.BlockType {
		case ext4format.JournalDescriptorBlock, ext4format.JournalRevokeBlock:
			tail := 0
			if j.csum {
				tail = ext4format.JournalBlockTailSize
				if be32(b[len(b)-4:]) != ext4format.JournalBlockTailChecksum(j.seed, b) {
					return 0, fmt.Errorf("transaction %d: a log block with a bad checksum", seq)
				}
			}
			if err := advance(); err != nil {
				return 0, err
			}
			if h.BlockType == ext4format.JournalRevokeBlock {
				if fn != nil {
					if err := fn(seq, b, nil); err != nil {
						return 0, err
					}
				}
				continue
			}
			for off := ext4format.JournalHeaderSize; off+tagBytes <= len(b)-tail; {
				var t ext4format.JournalTag
				t.Unmarshal(b[off:], j.incompat)
				off += tagBytes
				if t.Flags&ext4format.JournalTagSameUUID == 0 {
					off += ext4format.JournalUUIDSize
				}
				if t.BlockNr >= im.blocks || j.owns(t.BlockNr) {
					return 0, fmt.Errorf("transaction %d: the log names block %d, outside the filesystem or in the journal", seq, t.BlockNr)
				}
				if fn != nil {
					data, err := read(pos)
					if err != nil {
						return 0, err
					}
					if j.incompat&ext4format.JournalIncompatCsumV3 != 0 && t.Checksum != ext4format.JournalTagChecksum(j.seed, seq, data) {
						return 0, fmt.Errorf("transaction %d: logged block %d has a bad checksum", seq, t.BlockNr)
					}
					if t.Flags&ext4format.JournalTagEscape != 0 {
						putBE32(data, ext4format.JournalMagic)
					}
					if err := fn(seq, nil, &blockWrite{t.BlockNr, data}); err != nil {
						return 0, err
					}
				}
				if err := advance(); err != nil {
					return 0, err
				}
				if t.Flags&ext4format.JournalTagLast != 0 {
					break
				}
			}
		case ext4format.JournalCommitBlock:
			if j.csum && be32(b[0x10:]) != ext4format.JournalCommitChecksum(j.seed, b) {
				return 0, fmt.Errorf("transaction %d: the commit block has a bad checksum", seq)
			}
			seq++
			if end == 0 || seq != end {
				if err := advance(); err != nil {
					return 0, err
				}
			}
		default:
			return seq, nil
		}
	}
	return seq, nil
}

// setRecoverOnDisk sets or clears needs_recovery in the superblock on
// disk, as it is there, and syncs.
func (im *Image) setRecoverOnDisk(on bool) error {
	nr, off := im.sbBlock()
	b, err := im.readDisk(nr)
	if err != nil {
		return err
	}
	var sb ext4format.SuperBlock
	raw := b[off:][:ext4format.SuperBlockSize]
	sb.Unmarshal(raw)
	if on {
		sb.FeatureIncompat |= ext4format.IncompatRecover
	} else {
		sb.FeatureIncompat &^= ext4format.IncompatRecover
	}
	sb.Marshal(raw)
	if sb.FeatureRoCompat&ext4format.RoCompatMetadataCsum != 0 {
		sb.Checksum = ext4format.SuperBlockChecksum(raw)
		sb.Marshal(raw)
	}
	if _, err := im.f.WriteAt(b, int64(nr)*im.bs); err != nil {
		return err
	}
	return im.f.Sync()
}
