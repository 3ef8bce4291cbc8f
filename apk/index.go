package apk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// IndexError is a problem at one line of APKINDEX text, or of another file
// of apk's record format. It prints as "APKINDEX:12: field C: ..."; the
// caller adds which index it was.
type IndexError struct {
	File  string // "installed" for the installed database; "" is APKINDEX
	Line  int    // 1-based line number
	Field string // the field letter, "" when the line has none
	Err   error
}

func (e *IndexError) Error() string {
	file := e.File
	if file == "" {
		file = "APKINDEX"
	}
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %v", file, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: field %s: %v", file, e.Line, e.Field, e.Err)
}

func (e *IndexError) Unwrap() error { return e.Err }

// maxIndexLine bounds one line of an index; the longest real ones (D: and p:
// of large packages) are a few KiB.
const maxIndexLine = 1 << 20

// ParseIndex reads APKINDEX text: records of "X:value" lines separated by
// blank lines. It reads every field apk-tools reads from an index (C P V A S
// I T U L o m t c D p i k, and r q from .PKGINFO-derived records), ignores
// the installed-database fields (F M R Z a s f g) and unknown lower-case
// fields, and marks a record with an unknown upper-case field Uninstallable,
// as apk does, because such a field may change what installing it means.
//
// A malformed line, a number that is not a number, a C: that is not "Q1" +
// base64 SHA-1, an empty V:, or a record without P:, V: or C: is an
// *IndexError. A D: that does not parse, or has a version outside the
// grammar, makes the record Uninstallable, and such an i: is dropped, as
// apk-tools does, so the rest of the index stays usable; a p: version
// outside the grammar is kept (as apk does), other p: problems make the
// record Uninstallable.
func ParseIndex(r io.Reader) ([]*Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxIndexLine)
	var (
		pkgs  []*Package
		cur   *Package
		start int // line of cur's first field
		line  int
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		if f := missingField(cur); f != "" {
			return &IndexError{Line: start, Err: fmt.Errorf("record has no %s: field", f)}
		}
		pkgs = append(pkgs, cur)
		cur = nil
		return nil
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		if len(text) < 2 || text[1] != ':' {
			return nil, &IndexError{Line: line, Err: fmt.Errorf("line %q is not X:value", truncate(text))}
		}
		if cur == nil {
			cur, start = &Package{}, line
		}
		if err := cur.setIndexField(text[0], text[2:]); err != nil {
			return nil, &IndexError{Line: line, Field: text[:1], Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &IndexError{Line: line + 1, Err: fmt.Errorf("reading: %w", err)}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return pkgs, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// setIndexField stores one field of an index record.
func (p *Package) setIndexField(field byte, v string) error {
	var err error
	switch field {
	case 'P':
		if !ValidName(v) {
			return fmt.Errorf("invalid package name %q", v)
		}
		p.Name = v
	case 'V':
		// Not checked against the grammar: real indexes have versions
		// such as "0.99f7-r0" that apk orders all the same.
		// Printable ASCII without spaces, so that name-version can be
		// shown as it is.
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return fmt.Errorf("invalid version %q", v)
		}
		p.Version = v
	case 'A':
		p.Arch = v
	case 'C':
		p.Checksum, err = ParseChecksum(v)
	case 'S':
		p.Size, err = parseCount(v)
	case 'I':
		p.InstalledSize, err = parseCount(v)
	case 't':
		p.BuildTime, err = parseCount(v)
	case 'k':
		var n int64
		n, err = parseCount(v)
		p.ProviderPriority, p.HasProviderPriority = int(n), true
	case 'q':
		var n int64
		n, err = parseCount(v)
		p.ReplacesPriority = int(n)
	case 'T':
		p.Description = v
	case 'U':
		p.URL = v
	case 'L':
		p.License = v
	case 'o':
		p.Origin = v
	case 'm':
		p.Maintainer = v
	case 'c':
		p.Commit = v
	case 'D':
		deps, derr := parseIndexDeps(v)
		p.Depends = append(p.Depends, deps...)
		if derr != nil {
			p.markUninstallable("depends: " + derr.Error())
		}
	case 'p':
		deps, derr := parseIndexDeps(v)
		p.Provides = append(p.Provides, deps...)
		var bad *badVersionError
		if errors.As(derr, &bad) {
			derr = nil // apk keeps them: "pc:librtmp=v2.4" in v3.16
		}
		if derr == nil {
			derr = checkProvides(deps)
		}
		if derr != nil {
			p.markUninstallable("provides: " + derr.Error())
		}
	case 'i':
		deps, derr := parseIndexDeps(v)
		if derr != nil {
			p.InstallIf = nil
			p.BrokenInstallIf = true
		} else if !p.BrokenInstallIf {
			p.InstallIf = append(p.InstallIf, deps...)
		}
	case 'r':
		deps, derr := parseIndexDeps(v)
		if derr != nil {
			return derr
		}
		p.Replaces = append(p.Replaces, deps...)
	case 'F', 'M', 'R', 'Z', 'a', 's', 'f', 'g':
		// Installed-database entries: not part of a package's identity.
	default:
		if field < 'a' || field > 'z' {
			p.markUninstallable(fmt.Sprintf("unknown field %c:", field))
		}
	}
	return err
}

// parseIndexDeps parses a dependency field of a record. "@tag" pins are not
// allowed there (they exist only in a world). An atom whose version does not
// follow the grammar is kept, and reported as the error after the whole
// field is read, so callers can decide as apk does: it keeps such provides
// but refuses such depends.
func parseIndexDeps(s string) ([]Dependency, error) {
	var (
		deps    []Dependency
		invalid error
	)
	for _, f := range strings.Fields(s) {
		d, badVersion, err := parseAtom(f)
		if err == nil && d.Tag != "" {
			err = fmt.Errorf("parsing dependency %q: a tag is not allowed here", f)
		}
		if err != nil {
			return deps, err
		}
		if badVersion && invalid == nil {
			invalid = &badVersionError{fmt.Errorf("parsing dependency %q: invalid version %q", f, d.Version)}
		}
		deps = append(deps, d)
	}
	return deps, invalid
}

// badVersionError marks an atom that parsed except for its version.
type badVersionError struct{ error }

// checkProvides rejects provides that cannot name a package: conflicts,
// tags, and version relations other than "=".
func checkProvides(deps []Dependency) error {
	for _, d := range deps {
		if d.Conflict || d.Tag != "" || d.Op != OpAny && d.Op != OpEqual {
			return fmt.Errorf("provide %q is not name or name=version", d.String())
		}
	}
	return nil
}

func (p *Package) markUninstallable(reason string) {
	if !p.Uninstallable {
		p.Uninstallable, p.UninstallableReason = true, reason
	}
}

var errCount = errors.New("not a decimal number")

// parseCount parses a non-negative decimal number.
func parseCount(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q: %w", s, errCount)
	}
	return n, nil
}

// String returns "name-version", as apk names a package.
func (p *Package) String() string {
	return p.Name + "-" + p.Version
}
