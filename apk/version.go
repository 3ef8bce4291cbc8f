package apk

import "cmp"

// Alpine versions read number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}
// (apk-package(5)). They are compared token by token, the way apk-tools'
// version.c does, including its handling of versions that do not follow the
// grammar: comparison then stops at the first bad token and decides by token
// kind, so every pair of strings still has an order.

// versionToken is the kind of one version component, in grammar order: a
// kind may only follow kinds that sort before it (digits may repeat, and so
// may suffixes with their numbers). The order also decides comparisons
// between versions whose tokens differ in kind.
type versionToken uint8

const (
	tokInitialDigit versionToken = iota // the leading number
	tokDigit                            // .number
	tokLetter                           // a single a-z after a number
	tokSuffix                           // _alpha, _p, ...
	tokSuffixNumber                     // the number right after a suffix
	tokCommitHash                       // ~hex
	tokRevision                         // -rN
	tokEnd
	tokInvalid
)

// Suffix ranks: pre-release suffixes sort below a version without suffix,
// the others above it.
const (
	suffixInvalid = iota
	suffixAlpha
	suffixBeta
	suffixPre
	suffixRC
	suffixNone // the rank of "no suffix"; never parsed
	suffixCVS
	suffixSVN
	suffixGit
	suffixHg
	suffixP
)

var versionSuffixes = map[string]int{
	"alpha": suffixAlpha, "beta": suffixBeta, "pre": suffixPre, "rc": suffixRC,
	"cvs": suffixCVS, "svn": suffixSVN, "git": suffixGit, "hg": suffixHg, "p": suffixP,
}

// versionScanner walks a version string one token at a time.
type versionScanner struct {
	rest   string
	kind   versionToken
	text   string // the token's characters (digits without the '.')
	number uint64 // digits as a number, wrapping like apk's uint64
	suffix int
}

func newVersionScanner(v string) *versionScanner {
	s := &versionScanner{rest: v, kind: tokInitialDigit}
	s.digits()
	return s
}

// digits consumes a run of decimal digits; none at all makes the token invalid.
func (s *versionScanner) digits() {
	n := 0
	var val uint64
	for n < len(s.rest) && s.rest[n] >= '0' && s.rest[n] <= '9' {
		val = val*10 + uint64(s.rest[n]-'0')
		n++
	}
	s.text, s.number, s.rest = s.rest[:n], val, s.rest[n:]
	if n == 0 {
		s.kind = tokInvalid
	}
}

// next advances to the following token, checking that its kind may follow
// the current one.
func (s *versionScanner) next() {
	if s.rest == "" {
		s.kind = tokEnd
		return
	}
	c := s.rest[0]
	switch {
	case c >= 'a' && c <= 'z':
		if s.kind > tokDigit {
			s.kind = tokInvalid
			return
		}
		s.text, s.rest, s.kind = s.rest[:1], s.rest[1:], tokLetter
	case c == '.' || c >= '0' && c <= '9':
		if c == '.' {
			if s.kind > tokDigit {
				s.kind = tokInvalid
				return
			}
			s.rest = s.rest[1:]
		}
		switch s.kind {
		case tokInitialDigit, tokDigit:
			s.kind = tokDigit
		case tokSuffix:
			s.kind = tokSuffixNumber
		default:
			s.kind = tokInvalid
			return
		}
		s.digits()
	case c == '_':
		if s.kind > tokSuffixNumber {
			s.kind = tokInvalid
			return
		}
		n := 1
		for n < len(s.rest) && s.rest[n] >= 'a' && s.rest[n] <= 'z' {
			n++
		}
		s.text, s.rest = s.rest[1:n], s.rest[n:]
		s.suffix = versionSuffixes[s.text]
		if s.suffix == suffixInvalid {
			s.kind = tokInvalid
			return
		}
		s.kind = tokSuffix
	case c == '~':
		if s.kind >= tokCommitHash {
			s.kind = tokInvalid
			return
		}
		n := 1
		for n < len(s.rest) && isHexDigit(s.rest[n]) {
			n++
		}
		if n == 1 {
			s.kind = tokInvalid
			return
		}
		s.text, s.rest, s.kind = s.rest[1:n], s.rest[n:], tokCommitHash
	case c == '-':
		if s.kind >= tokRevision || len(s.rest) < 2 || s.rest[1] != 'r' {
			s.kind = tokInvalid
			return
		}
		s.rest = s.rest[2:]
		s.kind = tokRevision
		s.digits()
	default:
		s.kind = tokInvalid
	}
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
}

// compareTokens orders two tokens of the same kind.
func compareTokens(a, b *versionScanner) int {
	switch a.kind {
	case tokDigit:
		// A leading zero means a fraction-like component ("1.02"): compare
		// as strings, as Gentoo does.
		if a.text[0] == '0' || b.text[0] == '0' {
			return cmp.Compare(a.text, b.text)
		}
		return cmp.Compare(a.number, b.number)
	case tokInitialDigit, tokSuffixNumber, tokRevision:
		return cmp.Compare(a.number, b.number)
	case tokLetter:
		return cmp.Compare(uint64(a.text[0]), uint64(b.text[0]))
	case tokSuffix:
		return cmp.Compare(uint64(a.suffix), uint64(b.suffix))
	default:
		return cmp.Compare(a.text, b.text)
	}
}

// CompareVersions orders two Alpine versions: -1 when a < b, 0 when they are
// equal, +1 when a > b, exactly as apk-tools' apk_version_compare. Invalid
// versions are ordered too (see the package comment on versions).
func CompareVersions(a, b string) int {
	return compareVersions(a, b, false)
}

// compareVersions is CompareVersions; with fuzzy, a is also equal to b when b
// is a token-wise prefix of a ("3.6.9" ~ "3.6").
func compareVersions(a, b string, fuzzy bool) int {
	ta, tb := newVersionScanner(a), newVersionScanner(b)
	for ta.kind == tb.kind && ta.kind < tokEnd {
		if r := compareTokens(ta, tb); r != 0 {
			return r
		}
		ta.next()
		tb.next()
	}
	if ta.kind == tb.kind || tb.kind == tokEnd && fuzzy {
		return 0
	}
	// The common leading components are equal: the longer version is
	// greater, unless what it has more is a pre-release suffix.
	switch {
	case ta.kind == tokSuffix && ta.suffix < suffixNone:
		return -1
	case tb.kind == tokSuffix && tb.suffix < suffixNone:
		return 1
	case ta.kind > tb.kind:
		return -1
	case tb.kind > ta.kind:
		return 1
	}
	return 0
}

// ValidVersion reports whether s follows the Alpine version grammar.
func ValidVersion(s string) bool {
	t := newVersionScanner(s)
	for t.kind < tokEnd {
		t.next()
	}
	return t.kind == tokEnd
}
