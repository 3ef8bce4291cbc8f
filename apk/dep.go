package apk

import (
	"fmt"
	"strings"
)

// Dependency atoms are [!]name[@tag][op version], as apk-tools'
// apk_dep_parse reads them: the name runs up to the first of "<>=~", the
// operator is the run of those characters, and the rest is the version.

// opStrings spells each operator the way apk prints it. Fuzzy operators
// carry OpEqual too, as in apk-tools, where '~' sets both bits.
var opStrings = map[VersionOp]string{
	OpLess:                        "<",
	OpLess | OpEqual:              "<=",
	OpLess | OpEqual | OpFuzzy:    "<~",
	OpEqual | OpFuzzy:             "~",
	OpEqual:                       "=",
	OpGreater | OpEqual:           ">=",
	OpGreater | OpEqual | OpFuzzy: ">~",
	OpGreater:                     ">",
	OpChecksum:                    "><",
	OpAny:                         "",
}

// String spells the operator as apk does: "<", "<=", "<~", "~", "=", ">=",
// ">~", ">", "><", and "" for OpAny.
func (op VersionOp) String() string {
	if s, ok := opStrings[op]; ok {
		return s
	}
	return fmt.Sprintf("VersionOp(%#x)", uint8(op))
}

// parseOp reads a run of operator characters the way apk does: each of
// '<' '>' '=' adds its relation and '~' adds fuzzy-equal, so "=~" and "~="
// are "~" and "<>" or "><" is the checksum operator.
func parseOp(s string) (VersionOp, bool) {
	var less, equal, greater, fuzzy bool
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			less = true
		case '>':
			greater = true
		case '=':
			equal = true
		case '~':
			equal, fuzzy = true, true
		}
	}
	if less && greater && !equal && !fuzzy {
		return OpChecksum, true
	}
	var op VersionOp
	if less {
		op |= OpLess
	}
	if equal {
		op |= OpEqual
	}
	if greater {
		op |= OpGreater
	}
	if fuzzy {
		op |= OpFuzzy
	}
	if _, ok := opStrings[op]; !ok || op == OpAny {
		return 0, false
	}
	return op, true
}

func isOpChar(c byte) bool { return c == '<' || c == '>' || c == '=' || c == '~' }

// validNameChar reports whether c may appear in a dependency name:
// [a-zA-Z0-9._+-] for package names, plus ",:/[]" for provided names such
// as "so:libc.musl-x86_64.so.1" or "/bin/sh".
func validNameChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("._+-,:/[]", c) >= 0
}

// ValidName reports whether s can be a package or provided name.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !validNameChar(s[i]) {
			return false
		}
	}
	return true
}

// ParseDependency parses one atom "[!]name[@tag][op version]". The version
// must be a valid Alpine version, except after "><" where it is a package
// checksum ("Q1" + base64 SHA-1).
func ParseDependency(s string) (Dependency, error) {
	d, badVersion, err := parseAtom(s)
	if err == nil && badVersion {
		err = fmt.Errorf("parsing dependency %q: invalid version %q", s, d.Version)
	}
	if err != nil {
		return Dependency{}, err
	}
	return d, nil
}

// ParseWorldAtom parses an atom a person wrote (a world atom: a command
// line, a profile): like ParseDependency, but the operator must be spelled
// as apk prints it ("<", "<=", "<~", "~", "=", ">=", ">~", ">", "><").
// apk-tools folds any run of "<>=~" into one operator, so "musl>>=1" would
// quietly mean "musl>=1"; from a person such a run is a typo, and a typo
// in a version constraint must not choose the packages.
func ParseWorldAtom(s string) (Dependency, error) {
	d, err := ParseDependency(s)
	if err != nil {
		return Dependency{}, err
	}
	if d.Op != OpAny {
		rest := strings.TrimPrefix(s, "!")
		i := strings.IndexFunc(rest, func(r rune) bool { return r < 0x80 && isOpChar(byte(r)) })
		if spelled := rest[i : len(rest)-len(d.Version)]; spelled != d.Op.String() {
			return Dependency{}, fmt.Errorf("parsing dependency %q: operator %q (want one of <, <=, <~, ~, =, >=, >~, >, ><)", s, spelled)
		}
	}
	return d, nil
}

// parseAtom parses an atom like ParseDependency but reports a version that
// does not follow the grammar separately, because apk-tools keeps such
// atoms in an index (and orders their versions all the same).
func parseAtom(s string) (d Dependency, badVersion bool, err error) {
	rest := s
	if strings.HasPrefix(rest, "!") {
		d.Conflict = true
		rest = rest[1:]
	}
	i := strings.IndexFunc(rest, func(r rune) bool { return r < 0x80 && isOpChar(byte(r)) })
	name := rest
	d.Op = OpAny
	if i >= 0 {
		name = rest[:i]
		j := i
		for j < len(rest) && isOpChar(rest[j]) {
			j++
		}
		op, ok := parseOp(rest[i:j])
		if !ok {
			return Dependency{}, false, fmt.Errorf("parsing dependency %q: bad operator %q", s, rest[i:j])
		}
		d.Op, d.Version = op, rest[j:]
		if op == OpChecksum {
			if _, err := ParseChecksum(d.Version); err != nil {
				return Dependency{}, false, fmt.Errorf("parsing dependency %q: %w", s, err)
			}
		} else if strings.ContainsFunc(d.Version, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			// Not even a version apk keeps: it could not be shown as text.
			return Dependency{}, false, fmt.Errorf("parsing dependency %q: invalid version %q", s, d.Version)
		} else {
			badVersion = !ValidVersion(d.Version)
		}
	}
	if at := strings.IndexByte(name, '@'); at >= 0 {
		name, d.Tag = name[:at], name[at+1:]
		if !ValidName(d.Tag) {
			return Dependency{}, false, fmt.Errorf("parsing dependency %q: invalid tag %q", s, d.Tag)
		}
	}
	if !ValidName(name) {
		return Dependency{}, false, fmt.Errorf("parsing dependency %q: invalid name %q", s, name)
	}
	d.Name = name
	return d, badVersion, nil
}

// ParseDependencies parses a space separated list of atoms, as in the D:,
// p: and i: fields of an index. Runs of spaces are allowed; an empty string
// is an empty list.
func ParseDependencies(s string) ([]Dependency, error) {
	var deps []Dependency
	for _, f := range strings.Fields(s) {
		d, err := ParseDependency(f)
		if err != nil {
			return deps, err
		}
		deps = append(deps, d)
	}
	return deps, nil
}

// String spells the atom the way apk writes it: the tag before the
// operator, as in "name@tag>=1.2".
func (d Dependency) String() string {
	var b strings.Builder
	if d.Conflict {
		b.WriteByte('!')
	}
	b.WriteString(d.Name)
	if d.Tag != "" {
		b.WriteByte('@')
		b.WriteString(d.Tag)
	}
	if d.Op != OpAny && d.Op != 0 {
		b.WriteString(d.Op.String())
		b.WriteString(d.Version)
	}
	return b.String()
}

// MatchesVersion reports whether version v satisfies the version part of
// the atom; the name, the tag and the conflict flag are not looked at, so
// for "!foo<2" it reports whether v < 2. OpAny matches every version. An
// OpChecksum atom names a package, not a version, and matches none.
func (d Dependency) MatchesVersion(v string) bool {
	switch {
	case d.Op == OpAny || d.Op == 0:
		return true
	case d.Op&OpChecksum != 0:
		return false
	}
	r := compareVersions(v, d.Version, d.Op&OpFuzzy != 0)
	switch r {
	case -1:
		return d.Op&OpLess != 0
	case 1:
		return d.Op&OpGreater != 0
	}
	return d.Op&OpEqual != 0
}
