package apk

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// bigIndexText is an APKINDEX text of n records, large enough to be split.
func bigIndexText(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "C:Q1%s\nP:pkg%05d\nV:1.%d-r0\nA:x86_64\nS:100\nI:200\nT:package number %d\nD:so:libc.musl-x86_64.so.1 pkg%05d\np:cmd:pkg%05d=1.%d-r0\n\n",
			"EyN5AdpAOBJWKMR89pp/C66o+OE=", i, i, i, max(i-1, 0), i, i)
	}
	return b.String()
}

// TestParseIndexTextMatchesSerial: the split parse gives the serial
// parse's records in order, and the serial parse's error, line included.
func TestParseIndexTextMatchesSerial(t *testing.T) {
	text := bigIndexText(5000)
	if len(text) < 2*parallelIndexMin {
		t.Fatalf("test index is %d bytes, too small to be split", len(text))
	}
	want, err := ParseIndex(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseIndexText([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("parseIndexText gave %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, at := range []string{"P:pkg00003\n", "P:pkg02600\n", "P:pkg04999\n"} {
		bad := strings.Replace(text, at, at+"S:many\n", 1)
		_, wantErr := ParseIndex(strings.NewReader(bad))
		_, gotErr := parseIndexText([]byte(bad))
		if wantErr == nil || gotErr == nil || gotErr.Error() != wantErr.Error() {
			t.Errorf("parseIndexText with a bad S: after %q = %v, want %v", strings.TrimSpace(at), gotErr, wantErr)
		}
	}
	if bytes.Count([]byte(text), []byte("\n\n")) != 5000 {
		t.Fatal("generator changed: records are not blank-line separated")
	}
}
