package ext4check

import (
	"testing"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in        string
		sec, nsec int64
	}{
		{"0x5e0d5da5", 1577934245, -1},
		{"0x5e0d5da5:00000000", 1577934245, 0},
		{"0x00000001:ee6b27fc", 1, 999999999}, // ns << 2 | epoch 0
		{"0x80000000:00000000", -1 << 31, 0},  // 1901
		{"0x80000000:00000001", 1 << 31, 0},   // 2038, epoch bit 1
		{"0xffffffff:00000000", -1, 0},        // 1969-12-31 23:59:59
		{"0x00000000:00000003", 3 << 32, 0},   // 2446
		{"0x7fffffff:00000002", 1<<33 + 1<<31 - 1, 0},
	}
	for _, tt := range tests {
		sec, nsec, err := parseTime(tt.in)
		if err != nil || sec != tt.sec || nsec != tt.nsec {
			t.Errorf("parseTime(%q) = %d, %d, %v; want %d, %d", tt.in, sec, nsec, err, tt.sec, tt.nsec)
		}
	}
	for _, bad := range []string{"", "0x", "12:zz", "0x1ffffffff"} {
		if _, _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) = nil error", bad)
		}
	}
}

// FuzzParseDebugfs feeds arbitrary text to the debugfs output parsers: they
// must return an error or a result, never panic.
func FuzzParseDebugfs(f *testing.F) {
	f.Add([]byte("debugfs: ls -p <2>\n/2/040755/0/0/.//\n/11/040700/0/0/lost+found//\n/12/100644/-294967296/0/f/6/\n\n"))
	f.Add([]byte("debugfs: stat <12>\nInode: 12   Type: regular    Mode:  04755   Flags: 0x80000\n" +
		"User: -294967296   Group:     0   Project:     0   Size: 6\nLinks: 2   Blockcount: 8\n" +
		" mtime: 0x5e0d5da5:00000000 -- Thu Jan  2 03:04:05 2020\nExtended attributes:\n  user.a (2) = \"hi\"\n" +
		"Device major/minor number: 01:03 (hex 01:03)\nFast link dest: \"f\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		paths := map[string]uint32{"/": 2}
		_ = parseLs(data, map[uint32]string{2: "/"}, paths, map[uint32]string{})
		_ = parseStats(data, map[uint32]*inode{})
		for line := range splitLines(data) {
			_, _, _ = parseTime(line)
		}
	})
}

func splitLines(b []byte) map[string]bool {
	m := map[string]bool{}
	start := 0
	for i, c := range b {
		if c == '\n' || c == ' ' {
			m[string(b[start:i])] = true
			start = i + 1
		}
	}
	return m
}
