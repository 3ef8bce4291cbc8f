//go:build linux

package ext4patch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// hostileBudget bounds what one hostile image may cost the patcher.
const (
	hostileTimeout = 20 * time.Second
	hostileAlloc   = 64 << 20
)

// runHostile runs fn (Open and the operations on the image) in a
// goroutine and returns its error; a panic, a hang past hostileTimeout
// or more than hostileAlloc bytes allocated fail the test.
func runHostile(t testing.TB, fn func() error) error {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				buf := make([]byte, 8<<10)
				done <- fmt.Errorf("panic: %v\n%s", r, buf[:runtime.Stack(buf, false)])
			}
		}()
		done <- fn()
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(hostileTimeout):
		t.Fatalf("hung for %v", hostileTimeout)
	}
	if err != nil && strings.HasPrefix(err.Error(), "panic: ") {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > hostileAlloc {
		t.Errorf("allocated %d MiB, want at most %d MiB", d>>20, hostileAlloc>>20)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("error of more than one line: %q", err)
	}
	return err
}

// patchAll is what a hostile image is put through: Open, then
// patchSteps.
func patchAll(img string, opts Options) error {
	im, err := Open(img, opts)
	if err != nil {
		return err
	}
	defer im.Close()
	return patchSteps(im)
}

// patchSteps puts, removes, grows and commits, up to the first error.
func patchSteps(im *Image) error {
	for _, step := range []func() error{
		func() error {
			return im.Put("/etc/new", bytes.NewReader([]byte("new\n")), 0o644, 0, 0, patchTime)
		},
		func() error { return im.Put("/big/new-name", bytes.NewReader(nil), 0o644, 0, 0, patchTime) },
		func() error { return im.Remove("/usr/lib/libc.so") },
		func() error { return im.Grow(im.size + 4<<20) },
		im.Commit,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// hostileImage is an image being corrupted: its bytes and, to find
// what to corrupt, the image opened read-only.
type hostileImage struct {
	t   *testing.T
	b   []byte
	im  *Image
	img string
}

func (h *hostileImage) sb(fn func(sb *ext4format.SuperBlock)) {
	raw := h.b[ext4format.SuperBlockOffset:][:ext4format.SuperBlockSize]
	var sb ext4format.SuperBlock
	sb.Unmarshal(raw)
	fn(&sb)
	sb.Marshal(raw)
}

func (h *hostileImage) block(nr uint64) []byte { return h.b[int64(nr)*h.im.bs:][:h.im.bs] }

// ino is the inode of path.
func (h *hostileImage) ino(path string) uint32 {
	parent, base, err := h.im.walk(path, false, patchTime)
	if err != nil {
		h.t.Fatal(err)
	}
	e, _, err := h.im.lookup(parent, base)
	if err != nil || e == nil {
		h.t.Fatalf("looking up %s: %v", path, err)
	}
	return e.ino
}

// iblock is inode ino's i_block in the image's bytes.
func (h *hostileImage) iblock(ino uint32) []byte {
	nr, off, err := h.im.inodeAt(ino)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.block(nr)[off+0x28:][:60]
}

// dirBlock is logical block lblk of directory path.
func (h *hostileImage) dirBlock(path string, lblk int) []byte {
	d, err := h.im.openDir(h.ino(path))
	if err != nil {
		h.t.Fatal(err)
	}
	return h.block(d.blocks[lblk])
}

// fileBlocks are the physical blocks of path's content.
func (h *hostileImage) fileBlocks(path string) []uint64 {
	ino := h.ino(path)
	n, _, err := h.im.inode(ino)
	if err != nil {
		h.t.Fatal(err)
	}
	exts, _, err := h.im.extents(ino, n)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []uint64
	for _, x := range exts {
		for i := range uint64(x.len) {
			out = append(out, x.phys+i)
		}
	}
	return out
}

// logBlocks writes a journal needing recovery whose log holds blocks
// (from s_first on) and sets needs_recovery.
func (h *hostileImage) logBlocks(blocks ...[]byte) {
	j := h.im.jnl
	for i, b := range blocks {
		copy(h.block(j.block(j.sb.First+uint32(i))), b)
	}
	copy(h.block(j.block(0)), j.superBlock(j.sb.Sequence, j.sb.First))
	h.sb(func(sb *ext4format.SuperBlock) { sb.FeatureIncompat |= ext4format.IncompatRecover })
}

// descriptor is a log descriptor block of the current transaction
// tagging targets, the last tag flagged last unless open.
func (h *hostileImage) descriptor(open bool, targets ...uint64) []byte {
	j := h.im.jnl
	b := make([]byte, h.im.bs)
	ext4format.JournalHeader{Magic: ext4format.JournalMagic, BlockType: ext4format.JournalDescriptorBlock, Sequence: j.sb.Sequence}.Marshal(b)
	off := ext4format.JournalHeaderSize
	for i, nr := range targets {
		tag := ext4format.JournalTag{BlockNr: nr, Flags: ext4format.JournalTagSameUUID}
		if i == len(targets)-1 && !open {
			tag.Flags |= ext4format.JournalTagLast
		}
		tag.Marshal(b[off:], j.incompat)
		off += ext4format.JournalTagBytes(j.incompat)
	}
	return b
}

func (h *hostileImage) commitBlock() []byte {
	b := make([]byte, h.im.bs)
	ext4format.JournalCommit{Header: ext4format.JournalHeader{Magic: ext4format.JournalMagic,
		BlockType: ext4format.JournalCommitBlock, Sequence: h.im.jnl.sb.Sequence}}.Marshal(b)
	return b
}

// TestHostileImages corrupts ext4img's images as an attacker handing one
// to `patch` could: each must be refused with one line, without a panic,
// a hang or a runaway allocation, with and without Replay.
func TestHostileImages(t *testing.T) {
	k4, k1 := writerKind("ext4img-4k", 4096, false, false), writerKind("ext4img-1k", 1024, false, false)
	for _, tt := range []struct {
		name    string
		kind    imageKind
		corrupt func(h *hostileImage)
		want    string // in the error, with and without Replay
	}{
		{"inode size 0x8000", k4, func(h *hostileImage) {
			h.sb(func(sb *ext4format.SuperBlock) { sb.InodeSize = 0x8000 })
		}, "inode size 32768"},
		{"one block at 1 KiB", k1, func(h *hostileImage) {
			h.sb(func(sb *ext4format.SuperBlock) { sb.BlocksCountLo = 1 })
		}, "1 blocks"},
		{"one block per group", k1, func(h *hostileImage) {
			h.sb(func(sb *ext4format.SuperBlock) { sb.BlocksPerGroup = 1 })
		}, "1 blocks per group"},
		{"descriptors past group 0", k1, func(h *hostileImage) {
			h.sb(func(sb *ext4format.SuperBlock) {
				sb.BlocksPerGroup = 8
				sb.InodesCount = sb.InodesPerGroup * uint32((uint64(sb.BlocksCountLo)-1+7)/8)
			})
		}, "does not fit group 0"},
		{"inodes count off", k4, func(h *hostileImage) {
			h.sb(func(sb *ext4format.SuperBlock) { sb.InodesCount += 1000 })
		}, "inodes, but"},
		{"journal: descriptors without a commit, wrapping", k4, func(h *hostileImage) {
			j := h.im.jnl
			var log [][]byte
			for range j.sb.MaxLen - j.sb.First {
				log = append(log, h.descriptor(false, h.fileBlocks("/etc/passwd")[0]))
			}
			h.logBlocks(log...)
		}, "runs on past"},
		{"journal: a tag outside the filesystem", k4, func(h *hostileImage) {
			h.logBlocks(h.descriptor(false, uint64(h.im.blocks)+5), make([]byte, h.im.bs), h.commitBlock())
		}, "outside the filesystem"},
		{"journal: a tag onto the journal", k4, func(h *hostileImage) {
			j := h.im.jnl
			h.logBlocks(h.descriptor(false, j.block(0)), make([]byte, h.im.bs), h.commitBlock())
		}, "in the journal"},
		{"journal: s_start past s_maxlen", k4, func(h *hostileImage) {
			j := h.im.jnl
			copy(h.block(j.block(0)), j.superBlock(j.sb.Sequence, j.sb.MaxLen+3))
		}, "the log starts at block"},
		{"extent tree: every index to one node", k4, func(h *hostileImage) {
			blks := h.fileBlocks("/usr/lib/libc.so")
			x, y, z := blks[0], blks[1], blks[2]
			node := func(b []byte, depth uint16, max int, child uint64) {
				ext4format.ExtentHeader{Magic: ext4format.ExtentMagic, Entries: uint16(max), Max: uint16(max), Depth: depth}.Marshal(b)
				for i := range max {
					e := b[ext4format.ExtentHeaderSize+ext4format.ExtentEntrySize*i:]
					if depth == 0 {
						ext4format.Extent{Block: uint32(i), Len: 1, StartLo: uint32(child)}.Marshal(e)
					} else {
						ext4format.ExtentIdx{Block: uint32(i) << 20, LeafLo: uint32(child)}.Marshal(e)
					}
				}
			}
			per := (int(h.im.bs) - ext4format.ExtentHeaderSize) / ext4format.ExtentEntrySize
			node(h.iblock(h.ino("/usr/lib/libc.so")), 3, 4, x)
			node(h.block(x), 2, per, y)
			node(h.block(y), 1, per, z)
			node(h.block(z), 0, per, z)
		}, "names block"},
		{"extent tree: overlapping extents", k4, func(h *hostileImage) {
			ib := h.iblock(h.ino("/usr/lib/libc.so"))
			ext4format.ExtentHeader{Magic: ext4format.ExtentMagic, Entries: 4, Max: 4}.Marshal(ib)
			for i := range 4 {
				ext4format.Extent{Block: 0, Len: ext4format.InitMaxLen, StartLo: 100}.Marshal(ib[ext4format.ExtentHeaderSize+ext4format.ExtentEntrySize*i:])
			}
		}, "overlaps"},
		{"directory: huge i_size", k4, func(h *hostileImage) {
			nr, off, _ := h.im.inodeAt(h.ino("/etc"))
			b := h.block(nr)[off:]
			binary.LittleEndian.PutUint32(b[0x4:], 0xfffff000)
			binary.LittleEndian.PutUint32(b[0x6C:], 0xff)
		}, "more than"},
		{"directory: . with rec_len 1023", k1, func(h *hostileImage) {
			binary.LittleEndian.PutUint16(h.dirBlock("/etc", 0)[4:], 1023)
		}, "corrupt entry"},
		{"directory: rec_len past the block", k1, func(h *hostileImage) {
			b := h.dirBlock("/etc", 0)
			binary.LittleEndian.PutUint16(b[12+4:], 2000)
		}, "corrupt entry"},
		{"htree: index to block 0", k4, func(h *hostileImage) {
			root := h.dirBlock("/big", 0)
			es := dxEntries(root, ext4format.DxRootEntriesOffset)
			for i := range es {
				binary.LittleEndian.PutUint32(root[ext4format.DxRootEntriesOffset+ext4format.DxEntrySize*i+4:], 0)
			}
		}, "index names block 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			img := tt.kind.make(t, dir)
			im, err := Open(img, Options{Time: patchTime})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			tt.corrupt(&hostileImage{t: t, b: b, im: im, img: img})
			im.Close()
			for _, replay := range []bool{false, true} {
				if err := os.WriteFile(img, b, 0o644); err != nil {
					t.Fatal(err)
				}
				err := runHostile(t, func() error { return patchAll(img, Options{Time: patchTime, Replay: replay}) })
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					if !replay && strings.HasPrefix(tt.name, "journal:") && err != nil && strings.Contains(err.Error(), ErrNeedsRecovery.Error()) {
						continue
					}
					t.Errorf("patching (replay %v) = %v, want an error containing %q", replay, err, tt.want)
				}
			}
		})
	}
}

// TestHostileNamesQuoted: a name from the image (here one with a newline,
// reached through a symlink) is quoted in the error, which stays one line.
func TestHostileNamesQuoted(t *testing.T) {
	img := writerKind("ext4img-4k", 4096, false, false).make(t, t.TempDir())
	im, err := Open(img, Options{Time: patchTime})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileImage{t: t, b: b, im: im, img: img}
	blk := h.dirBlock("/etc", 0)
	i := bytes.Index(blk, []byte("hostname"))
	blk[i+6] = '\n'
	target := "../etc/hostna\ne"
	out := h.ino("/var/out")
	copy(h.iblock(out), target+"\x00")
	nr, off, _ := im.inodeAt(out)
	binary.LittleEndian.PutUint32(h.block(nr)[off+4:], uint32(len(target)))
	im.Close()
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = runHostile(t, func() error {
		im, err := Open(img, Options{Time: patchTime})
		if err != nil {
			return err
		}
		defer im.Close()
		return im.Put("/var/out/x", bytes.NewReader(nil), 0o644, 0, 0, patchTime)
	})
	if want := `"hostna\ne" is not a directory`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Put(/var/out/x) = %v, want an error containing %q", err, want)
	}
}
