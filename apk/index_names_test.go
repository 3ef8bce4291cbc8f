package apk

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestIndexRefusesUnprintableVersions: a version holding a control byte
// or a byte that is not printable ASCII is refused (V:) or leaves the
// atom out (D:, p:), so that name-version and atoms are text wherever
// they are shown; the error quotes it.
func TestIndexRefusesUnprintableVersions(t *testing.T) {
	const rec = "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:x\nS:1\nI:1\n"
	for _, v := range []string{"1\x1b[31m-r0", "1\a-r0", "1\xff-r0", "1\x7f-r0"} {
		_, err := ParseIndex(strings.NewReader(rec + "V:" + v + "\n\n"))
		if err == nil {
			t.Errorf("ParseIndex with V:%q = nil error, want it refused", v)
		} else if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("ParseIndex with V:%q = %q, which is not quoted", v, msg)
		}
		for _, field := range []string{"D:y>=", "p:y="} {
			pkgs, err := ParseIndex(strings.NewReader(rec + "V:1-r0\n" + field + v + "\n\n"))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range append(pkgs[0].Depends, pkgs[0].Provides...) {
				if d.Version == v {
					t.Errorf("ParseIndex with %s%q kept the atom %q", field, v, d.String())
				}
			}
		}
	}
	// The negative control: versions apk keeps although they break the
	// grammar are still kept.
	pkgs, err := ParseIndex(strings.NewReader(rec + "V:0.99f7-r0\np:pc:librtmp=v2.4\n\n"))
	if err != nil || len(pkgs) != 1 || len(pkgs[0].Provides) != 1 {
		t.Errorf("ParseIndex of V:0.99f7-r0 p:pc:librtmp=v2.4 = %v, %v, want the record with its provides", pkgs, err)
	}
}
