package e2fsck

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// writeAt writes b at off of file p (created when missing).
func writeAt(t *testing.T, p string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	writeAt(t, a, 0, []byte("start"))
	writeAt(t, a, 5<<20, []byte("end")) // a hole between
	tests := []struct {
		name   string
		change func(b string)
		want   string
	}{
		{"same", func(string) {}, ""},
		{"s_wtime", func(b string) { writeAt(t, b, 1024+0x30, []byte{1, 2, 3, 4}) }, ""},
		{"s_lastcheck_hi", func(b string) { writeAt(t, b, 1024+0x276, []byte{9}) }, ""},
		{"s_kbytes_written", func(b string) { writeAt(t, b, 1024+0x178, []byte{9}) }, ""},
		{"s_mnt_count", func(b string) { writeAt(t, b, 1024+0x34, []byte{3, 0}) }, ""},
		{"s_max_mnt_count", func(b string) { writeAt(t, b, 1024+0x36, []byte{3}) }, "first difference at byte 1078"},
		{"zeros where a has a hole", func(b string) { writeAt(t, b, 2<<20, make([]byte, 4096)) }, ""},
		{"s_mtime", func(b string) { writeAt(t, b, 1024+0x2C, []byte{1}) }, "first difference at byte 1068"},
		{"in a hole", func(b string) { writeAt(t, b, 3<<20+7, []byte{1}) }, "first difference at byte 3145735"},
		{"last byte", func(b string) { writeAt(t, b, 5<<20+2, []byte{'x'}) }, "first difference at byte 5242882"},
		{"longer", func(b string) { writeAt(t, b, 6<<20, []byte{0}) }, "sizes 5242883 and 6291457"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filepath.Join(t.TempDir(), "b")
			if err := CopySparse(b, a); err != nil {
				t.Fatal(err)
			}
			tt.change(b)
			if got, err := Diff(a, b); got != tt.want || err != nil {
				t.Errorf("Diff(a, a with %s) = %q, %v, want %q", tt.name, got, err, tt.want)
			}
		})
	}
}

// TestCheckCatchesCorruption proves both judges can fail, also where
// e2fsck exits 0 after a repair.
func TestCheckCatchesCorruption(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.img")
	c := exec.Command(testenv.Tool(t, "mke2fs"), "-q", "-F", "-t", "ext4", "-b", "4096", good, "16M")
	c.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
	for name, check := range map[string]func(testing.TB, string) error{"Check": Check, "CheckInPlace": CheckInPlace} {
		if err := check(t, good); err != nil {
			t.Errorf("%s(mke2fs image) = %v", name, err)
		}
	}
	for _, tt := range []struct {
		name string
		off  int64
		b    []byte
	}{
		{"wrong free inode count", 1024 + 0x10, []byte{3, 0, 0, 0}},
		// e2fsck -fn says nothing, e2fsck -fy restores it and exits 0.
		{"stale journal backup", 1024 + 0x10C, []byte{0, 0, 0, 0}},
	} {
		for name, check := range map[string]func(testing.TB, string) error{"Check": Check, "CheckInPlace": CheckInPlace} {
			img := filepath.Join(t.TempDir(), "bad.img")
			if err := CopySparse(img, good); err != nil {
				t.Fatal(err)
			}
			writeAt(t, img, tt.off, tt.b)
			if err := check(t, img); err == nil {
				t.Errorf("%s(image with a %s) = nil, want an error", name, tt.name)
			}
		}
	}
}
