package ext4img

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
	"github.com/rootfs-synth/rootfs-synth/internal/memfile"
)

// readImage returns the raw bytes of img.
func readImage(t *testing.T, img string) []byte {
	t.Helper()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawInode returns inode ino of an image with 4 KiB blocks whose inodes
// all sit in group 0.
func rawInode(img []byte, ino uint32) []byte {
	table := binary.LittleEndian.Uint32(img[4096+0x8:]) // bg_inode_table_lo of group 0
	off := int64(table)*4096 + int64(ino-1)*inodeSize
	return img[off : off+inodeSize]
}

// TestTimesPast2106 writes a filesystem time and entry times past 2106
// (where superblock times need their high byte and inode times their epoch
// bits) and reads every time field back at the kernel's offsets
// (fs/ext4/ext4.h struct ext4_super_block and struct ext4_inode). Before
// the fix s_mkfs_time_hi was written at 0x275 (s_mtime_hi) and
// s_lastcheck_hi at 0x276 (s_mkfs_time_hi).
func TestTimesPast2106(t *testing.T) {
	fsTime := time.Date(2200, 1, 2, 3, 4, 5, 0, time.UTC)
	fileTime := time.Date(2150, 6, 7, 8, 9, 10, 123456789, time.UTC)
	w := NewWriter(Options{Time: fsTime})
	if err := w.Add(Entry{Path: "f", Mode: 0o644, ModTime: fileTime}); err != nil {
		t.Fatal(err)
	}
	img := writeImage(t, w)
	t.Setenv("E2FSCK_TIME", strconv.FormatInt(fsTime.Unix(), 10)) // else the write time is in the future
	fsck(t, img)
	raw := readImage(t, img)
	sb := raw[ext4format.SuperBlockOffset : ext4format.SuperBlockOffset+ext4format.SuperBlockSize]
	le := binary.LittleEndian
	fsLo, fsHi := uint32(fsTime.Unix()), uint8(fsTime.Unix()>>32)
	if fsHi != 1 {
		t.Fatalf("test time %v has high byte %d, want 1", fsTime, fsHi)
	}
	for _, f := range []struct {
		name string
		off  int
		size int // 4 or 1
		want uint32
	}{
		{"s_mtime", 0x2C, 4, 0},
		{"s_wtime", 0x30, 4, fsLo},
		{"s_lastcheck", 0x40, 4, fsLo},
		{"s_mkfs_time", 0x108, 4, fsLo},
		{"s_first_error_time", 0x198, 4, 0},
		{"s_last_error_time", 0x1CC, 4, 0},
		{"s_wtime_hi", 0x274, 1, uint32(fsHi)},
		{"s_mtime_hi", 0x275, 1, 0},
		{"s_mkfs_time_hi", 0x276, 1, uint32(fsHi)},
		{"s_lastcheck_hi", 0x277, 1, uint32(fsHi)},
		{"s_first_error_time_hi", 0x278, 1, 0},
		{"s_last_error_time_hi", 0x279, 1, 0},
	} {
		got := uint32(sb[f.off])
		if f.size == 4 {
			got = le.Uint32(sb[f.off:])
		}
		if got != f.want {
			t.Errorf("superblock %s (%#x) = %#x, want %#x", f.name, f.off, got, f.want)
		}
	}

	// Inode times: 32 bits at the base field, then epoch bits and
	// nanoseconds in the _extra field.
	for _, in := range []struct {
		ino  uint32
		want time.Time
	}{
		{ext4format.RootIno, fsTime},
		{lostFoundIno, fsTime},
		{ext4format.JournalIno, fsTime},
		{12, fileTime},
	} {
		b := rawInode(raw, in.ino)
		for _, f := range []struct {
			name      string
			off, xoff int
		}{
			{"i_atime", 0x8, 0x8C}, {"i_ctime", 0xC, 0x84}, {"i_mtime", 0x10, 0x88}, {"i_crtime", 0x90, 0x94},
		} {
			lo, extra := le.Uint32(b[f.off:]), le.Uint32(b[f.xoff:])
			got := time.Unix(int64(int32(lo))+int64(extra&3)<<32, int64(extra>>2)).UTC()
			if !got.Equal(in.want) {
				t.Errorf("inode %d %s (%#x, extra %#x) = %v, want %v", in.ino, f.name, f.off, f.xoff, got, in.want)
			}
		}
	}
	mustContain(t, "debugfs stat /f", debugfs(t, img, "stat /f"),
		"mtime: 0x5361a626:1d6f3455 -- Sun Jun  7 08:09:10 2150",
		"crtime: 0x5361a626:1d6f3455 -- Sun Jun  7 08:09:10 2150")
}

// TestFilesystemTimeRule: Options.Time is clamped like entry times and
// never before 1970 in the superblock (its times are unsigned).
func TestFilesystemTimeRule(t *testing.T) {
	for _, tt := range []struct {
		in   time.Time
		want int64 // s_wtime with its high byte
	}{
		{time.Time{}, 0},
		{time.Unix(1700000000, 5), 1700000000},
		{time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()},
		{time.Date(2320, 1, 1, 0, 0, 0, 0, time.UTC), 3<<32 - 1<<31 - 1}, // e2fsck's window
		{time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC).Unix()},
		{time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), 1<<31 - 1 + 3<<32}, // 2446-05-10
	} {
		w := NewWriter(Options{Time: tt.in, NoJournal: true})
		var m memfile.File
		if err := w.Write(&m); err != nil {
			t.Fatal(err)
		}
		sb := m.Bytes()[ext4format.SuperBlockOffset:]
		for _, f := range []struct {
			name   string
			lo, hi int
		}{{"s_wtime", 0x30, 0x274}, {"s_mkfs_time", 0x108, 0x276}, {"s_lastcheck", 0x40, 0x277}} {
			got := int64(binary.LittleEndian.Uint32(sb[f.lo:])) | int64(sb[f.hi])<<32
			if got != tt.want {
				t.Errorf("Options{Time: %v}: %s = %d, want %d", tt.in, f.name, got, tt.want)
			}
		}
	}
}

func TestClampTime(t *testing.T) {
	for _, tt := range []struct {
		in, want time.Time
		clamped  bool
	}{
		{time.Unix(0, 0), time.Unix(0, 0), false},
		{time.Unix(1700000000, 7), time.Unix(1700000000, 7), false},
		{time.Unix(-1<<31, 0), time.Unix(-1<<31, 0), false},          // 1901-12-13 20:45:52
		{time.Unix(-1<<31-1, 999999999), time.Unix(-1<<31, 0), true}, // just before
		{time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(-1<<31, 0), true},
		{time.Unix(3<<32-1<<31-1, 999999999), time.Unix(3<<32-1<<31-1, 999999999), false}, // 2310-04-04, last ns before the window
		{time.Unix(3<<32-1<<31, 0), time.Unix(3<<32-1<<31-1, 999999999), true},
		{time.Unix(3<<32-1, 5), time.Unix(3<<32-1<<31-1, 999999999), true},                // 2378-04-22, still inside
		{time.Unix(3<<32, 0), time.Unix(3<<32, 0), false},                                 // after the window
		{time.Unix(1<<31-1+3<<32, 999999999), time.Unix(1<<31-1+3<<32, 999999999), false}, // 2446-05-10
		{time.Unix(1<<31+3<<32, 0), time.Unix(1<<31-1+3<<32, 999999999), true},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(1<<31-1+3<<32, 999999999), true},
	} {
		got, clamped := ClampTime(tt.in)
		if !got.Equal(tt.want) || clamped != tt.clamped {
			t.Errorf("ClampTime(%v) = %v, %v, want %v, %v", tt.in.UTC(), got.UTC(), clamped, tt.want.UTC(), tt.clamped)
		}
	}
}

// TestLayoutCountsClampedTimes: Layout reports how many entry times were
// clamped and the first such path, so a caller can warn.
func TestLayoutCountsClampedTimes(t *testing.T) {
	old := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)
	window := time.Date(2350, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		times     []time.Time // of the root, then entries e0, e1, ...
		wantCount int
		wantFirst string
	}{
		{[]time.Time{testTime, testTime, {}}, 0, ""},
		{[]time.Time{testTime, testTime, old, window}, 2, "e1"},
		{[]time.Time{old, testTime, window}, 2, "."},
	} {
		w := NewWriter(Options{Time: testTime})
		for i, mt := range tt.times {
			p, mode := ".", fs.ModeDir|0o755
			if i > 0 {
				p, mode = fmt.Sprintf("e%d", i-1), 0o644
			}
			if err := w.Add(Entry{Path: p, Mode: mode, ModTime: mt}); err != nil {
				t.Fatal(err)
			}
		}
		// A failed Add counts nothing.
		if err := w.Add(Entry{Path: "e0", Mode: 0o644, ModTime: old}); err == nil {
			t.Fatal("adding e0 twice succeeded")
		}
		l, err := w.Layout()
		if err != nil {
			t.Fatal(err)
		}
		if l.ClampedTimes != tt.wantCount || l.FirstClampedTime != tt.wantFirst {
			t.Errorf("Layout of times %v: ClampedTimes, FirstClampedTime = %d, %q, want %d, %q", tt.times, l.ClampedTimes, l.FirstClampedTime, tt.wantCount, tt.wantFirst)
		}
	}
}
