package apk

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// errChecksum explains a checksum that is not "Q1" + base64 of 20 bytes.
var errChecksum = errors.New(`checksum is not "Q1" followed by a base64 SHA-1`)

// FormatChecksum spells a SHA-1 digest the way apk writes checksums in an
// index, the installed database and the triggers file: "Q1" followed by
// its standard base64 (28 characters). An empty digest is "".
func FormatChecksum(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return "Q1" + base64.StdEncoding.EncodeToString(b)
}

// ParseChecksum decodes a "Q1" + base64 SHA-1 checksum, the inverse of
// FormatChecksum. The "X1" + hex spelling apk also reads (it names the
// scripts in scripts.tar.gz that way) is not accepted here.
func ParseChecksum(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "Q1")
	if !ok {
		return nil, fmt.Errorf("decoding checksum %q: %w", s, errChecksum)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) != sha1.Size {
		return nil, fmt.Errorf("decoding checksum %q: %w", s, errChecksum)
	}
	return b, nil
}

// XattrChecksum is apk's digest of a path's extended attributes, the
// fourth field of an M: or a: line: the SHA-1 over the attributes sorted
// by name, each as its name's length (4 bytes, big-endian), the name, its
// value's length and the value. Names are as the kernel spells them
// ("security.capability"), without the "SCHILY.xattr." PAX prefix. No
// attributes give nil, for which apk writes no fourth field.
func XattrChecksum(xattrs map[string]string) []byte {
	if len(xattrs) == 0 {
		return nil
	}
	names := make([]string, 0, len(xattrs))
	for name := range xattrs {
		names = append(names, name)
	}
	slices.Sort(names)
	h := sha1.New()
	var n [4]byte
	for _, name := range names {
		for _, s := range []string{name, xattrs[name]} {
			binary.BigEndian.PutUint32(n[:], uint32(len(s)))
			h.Write(n[:])
			h.Write([]byte(s))
		}
	}
	return h.Sum(nil)
}
