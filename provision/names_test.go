package provision

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// hostileName holds what a terminal must never get raw: an escape
// sequence and a bell (fs.ValidPath lets them through), and
// notUTF8Name bytes that are not UTF-8 (a package reader refuses).
const (
	hostileName = "usr/bin/x\x1b[31mred\a"
	notUTF8Name = "usr/bin/x\x1b[31m\xff\xfe"
)

// rawTerminalBytes says what of s would reach a terminal raw: invalid
// UTF-8, or a control byte (an error is one line, so a newline too).
func rawTerminalBytes(s string) string {
	var bad []string
	if !utf8.ValidString(s) {
		bad = append(bad, "invalid UTF-8")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			bad = append(bad, fmt.Sprintf("the control byte %#02x", s[i]))
			break
		}
	}
	return strings.Join(bad, " and ")
}

// TestHostileNamesQuoted: errors that name a package's entry quote it,
// so that it reaches the terminal as text.
func TestHostileNamesQuoted(t *testing.T) {
	if got := rawTerminalBytes("a\x1bb"); got == "" { // the judge can say no
		t.Fatal("rawTerminalBytes finds nothing raw in an ESC")
	}
	if got := rawTerminalBytes("a\xffb"); got == "" {
		t.Fatal("rawTerminalBytes finds nothing raw in a 0xff byte")
	}
	for _, tc := range []struct {
		name  string
		extra []apktest.Pkg
		world []string
		want  string // the name as the error must show it
	}{
		{"conflict", []apktest.Pkg{
			{Name: "one", Version: "1-r0", Files: []apktest.File{{Name: hostileName, Data: []byte("one")}}},
			{Name: "two", Version: "1-r0", Files: []apktest.File{{Name: hostileName, Data: []byte("two")}}},
		}, []string{"one", "two"}, `x\x1b[31mred\a`},
		{"checksum mismatch", []apktest.Pkg{
			{Name: "one", Version: "1-r0", Files: []apktest.File{{Name: hostileName, Data: []byte("one"), Checksum: strings.Repeat("0", 40)}}},
		}, []string{"one"}, `x\x1b[31mred\a`},
		{"not UTF-8", []apktest.Pkg{
			{Name: "one", Version: "1-r0", Files: []apktest.File{{Name: notUTF8Name, Data: []byte("one")}}},
		}, []string{"one"}, `x\x1b[31m\xff\xfe`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, append(basePackages(t)[:1:1], tc.extra...), tc.world...)
			res, err := Provision(context.Background(), f.options())
			if err == nil {
				res.Close()
				t.Fatal("Provision succeeded")
			}
			if bad := rawTerminalBytes(err.Error()); bad != "" {
				t.Errorf("error %q holds %s", err, bad)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the entry, quoted", err)
			}
		})
	}
}
