package unixmode

import (
	"io/fs"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	for _, tt := range []struct {
		m fs.FileMode
		v uint32
	}{
		{0o644, 0o100644},
		{fs.ModeDir | 0o755, 0o040755},
		{fs.ModeSymlink | 0o777, 0o120777},
		{fs.ModeDevice | fs.ModeCharDevice | 0o666, 0o020666},
		{fs.ModeDevice | 0o660, 0o060660},
		{fs.ModeNamedPipe | 0o600, 0o010600},
		{fs.ModeSocket | 0o755, 0o140755},
		{fs.ModeSetuid | 0o755, 0o104755},
		{fs.ModeDir | fs.ModeSetgid | fs.ModeSticky | 0o777, 0o043777},
		{fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky, 0o107000},
	} {
		if got := Encode(tt.m); got != tt.v {
			t.Errorf("Encode(%v) = %#o, want %#o", tt.m, got, tt.v)
		}
		if got, ok := Decode(tt.v); got != tt.m || !ok {
			t.Errorf("Decode(%#o) = %v, %v, want %v, true", tt.v, got, ok, tt.m)
		}
		if got, want := EncodePerm(tt.m), tt.v&0o7777; got != want {
			t.Errorf("EncodePerm(%v) = %#o, want %#o", tt.m, got, want)
		}
		if got, want := DecodePerm(tt.v), tt.m&^fs.ModeType; got != want {
			t.Errorf("DecodePerm(%#o) = %v, want %v", tt.v, got, want)
		}
	}
	for _, v := range []uint32{0o000644, 0o030644, 0o170644} {
		if got, ok := Decode(v); ok || got != 0o644 {
			t.Errorf("Decode(%#o) = %v, %v, want -rw-r--r--, false", v, got, ok)
		}
	}
	if got := Encode(fs.ModeIrregular | 0o644); got != 0o644 {
		t.Errorf("Encode(irregular) = %#o, want 0644 (no type)", got)
	}
}
