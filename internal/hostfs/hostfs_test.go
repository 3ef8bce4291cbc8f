//go:build linux

package hostfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestXattrsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{
		"user.small": []byte("v"),
		"user.empty": {},
		"user.big":   bytes.Repeat([]byte{0, 1, 0xff}, 700), // past the first 1 KiB buffer
	}
	for k, v := range want {
		if err := SetXattr(f, k, v); err != nil {
			if errors.Is(err, syscall.ENOTSUP) {
				t.Skipf("%s: no user xattrs on this filesystem", dir)
			}
			t.Fatal(err)
		}
	}
	got, err := Xattrs(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("Xattrs(%s) = %d attributes, want %d", f, len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !bytes.Equal(g, v) {
			t.Errorf("Xattrs(%s)[%q] = %q (present %v), want %q", f, k, g, ok, v)
		}
	}
	// A symlink's own attributes, not its target's.
	l := filepath.Join(dir, "l")
	if err := os.Symlink("f", l); err != nil {
		t.Fatal(err)
	}
	if got, err := Xattrs(l); err != nil || len(got) != 0 {
		t.Errorf("Xattrs(symlink) = %v, %v, want none", got, err)
	}
}

func TestStatOf(t *testing.T) {
	fi, err := os.Lstat("/dev/null")
	if err != nil {
		t.Skip(err)
	}
	if st := StatOf(fi); st.Major != 1 || st.Minor != 3 {
		t.Errorf("StatOf(/dev/null) = %d:%d, want 1:3", st.Major, st.Minor)
	}
}

func TestDevNumbers(t *testing.T) {
	makedev := func(major, minor uint64) uint64 { // glibc's gnu_dev_makedev
		return major&0xfff<<8 | major&^0xfff<<32 | minor&0xff | minor&^0xff<<12
	}
	for _, tt := range []struct{ major, minor uint32 }{{1, 3}, {259, 7}, {4095, 1048575}, {1 << 20, 1 << 30}} {
		if ma, mi := devNumbers(makedev(uint64(tt.major), uint64(tt.minor))); ma != tt.major || mi != tt.minor {
			t.Errorf("devNumbers(makedev(%d, %d)) = %d, %d, want %d, %d", tt.major, tt.minor, ma, mi, tt.major, tt.minor)
		}
	}
}
