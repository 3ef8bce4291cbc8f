package ext4img

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

func TestEncodeTime(t *testing.T) {
	for _, tt := range []struct {
		in         time.Time
		sec, extra uint32
	}{
		{time.Unix(0, 0), 0, 0},
		{time.Unix(1600000000, 123456789), 1600000000, 123456789 << 2},
		{time.Unix(-1, 0), 0xffffffff, 0},                         // 1969: negative, epoch 0
		{time.Unix(1<<31, 0), 0x80000000, 1},                      // 2038: epoch bit 1
		{time.Unix(1<<32+5, 7), 5, 1<<0 | 7<<2},                   // 2106
		{time.Unix(-1<<40, 0), 0x80000000, 0},                     // clamped to 1901
		{time.Unix(1<<40, 0), 0x7fffffff, 3 | 999999999<<2},       // clamped to 2446
		{time.Unix(3<<32-1<<31, 0), 0x7fffffff, 2 | 999999999<<2}, // 2310-04-04: e2fsck's window, clamped below it
		{time.Unix(3<<32-1, 5), 0x7fffffff, 2 | 999999999<<2},     // 2378-04-22, still in the window
		{time.Unix(3<<32, 5), 0, 3 | 5<<2},                        // 2378-04-22 after the window: kept
	} {
		sec, extra := encodeTime(tt.in)
		if sec != tt.sec || extra != tt.extra {
			t.Errorf("encodeTime(%v) = %#x, %#x, want %#x, %#x", tt.in.Unix(), sec, extra, tt.sec, tt.extra)
		}
	}
}

func TestIsBackupGroup(t *testing.T) {
	var got []uint32
	for g := uint32(0); g < 400; g++ {
		if ext4format.HasSuperBackup(g) {
			got = append(got, g)
		}
	}
	want := []uint32{0, 1, 3, 5, 7, 9, 25, 27, 49, 81, 125, 243, 343}
	if len(got) != len(want) {
		t.Fatalf("backup groups below 400 = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("backup groups below 400 = %v, want %v", got, want)
		}
	}
}

func TestTreeShape(t *testing.T) {
	for _, tt := range []struct {
		extents, bs int
		want        []int
	}{
		{0, 4096, nil},
		{4, 4096, nil},
		{5, 4096, []int{1}},
		{340, 4096, []int{1}},
		{341, 4096, []int{2}},
		{1360, 4096, []int{4}},
		{1361, 4096, []int{5, 1}},
		{2048, 1024, []int{25, 1}}, // (1024-12)/12 = 84 extents per leaf
		{84 * 84 * 5, 1024, []int{420, 5, 1}},
	} {
		got := treeShape(tt.extents, tt.bs)
		if len(got) != len(tt.want) {
			t.Errorf("treeShape(%d, %d) = %v, want %v", tt.extents, tt.bs, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("treeShape(%d, %d) = %v, want %v", tt.extents, tt.bs, got, tt.want)
				break
			}
		}
	}
}

func TestJournalBlocks(t *testing.T) {
	for _, tt := range []struct {
		opts  Options
		total uint32
		want  uint32
	}{
		{Options{}, 100, 1024}, // mke2fs would have none below 2048; we keep the minimum
		{Options{}, 32767, 1024},
		{Options{}, 32768, 4096},
		{Options{}, 262144, 8192},
		{Options{}, 4194304, 32768},
		{Options{}, 1 << 31, 262144},
		{Options{NoJournal: true}, 32768, 0},
		{Options{JournalBlocks: 2000}, 32768, 2000},
	} {
		p := &prepared{w: NewWriter(tt.opts)}
		if got := p.journalBlocks(tt.total); got != tt.want {
			t.Errorf("journalBlocks(%+v, %d) = %d, want %d", tt.opts, tt.total, got, tt.want)
		}
	}
}

func TestXattrHash(t *testing.T) {
	// Worked by hand from ext4_xattr_hash_entry: name bytes shifted in by
	// 5, then value words by 16.
	h := uint32(0)
	for _, c := range []byte("ab") {
		h = h<<5 ^ h>>27 ^ uint32(c)
	}
	h = h<<16 ^ h>>16 ^ 0x00000078 // "x" padded to one little-endian word
	if got := xattrHash("ab", []byte("x")); got != h {
		t.Errorf("xattrHash(ab, x) = %#x, want %#x", got, h)
	}
	if got := xattrHash("", nil); got != 0 {
		t.Errorf("xattrHash(\"\", nil) = %#x, want 0", got)
	}
}

func TestXattrBlockLayout(t *testing.T) {
	b := encodeXattrBlock([]xattr{{index: 1, name: "a", value: []byte("xyz")}}, 1024)
	want := xattrHash("a", []byte("xyz")) // one entry: h_hash = 0<<16 ^ 0>>16 ^ e_hash
	for _, tt := range []struct {
		field string
		off   int
		want  uint32
	}{
		{"h_magic", 0x0, ext4format.XattrMagic},
		{"h_blocks", 0x8, 1},
		{"h_hash", 0xC, want},
		{"h_checksum", 0x10, 0},
		{"e_hash", 32 + 0xC, want},
		{"e_value_offs|size", 32 + 0x2, 1020}, // value at the block's end
	} {
		got := binary.LittleEndian.Uint32(b[tt.off:])
		if tt.field == "e_value_offs|size" {
			got &= 0xffff
		}
		if got != tt.want {
			t.Errorf("encodeXattrBlock: %s = %#x, want %#x", tt.field, got, tt.want)
		}
	}
}
