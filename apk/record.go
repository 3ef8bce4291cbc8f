package apk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteIndex writes pkgs as APKINDEX text, in the given order, each record
// ended by a blank line, byte for byte as apk-tools 3 writes one
// (apk_pkg_write_index_entry): the fields C P V A S I T U L o m t c k D p i.
// S, I, T, U and L are written even when zero or empty, as apk does; A, o,
// m, t, c, k and the dependency lists only when set. Replaces (r:, q:)
// belong to the installed database and are not written. A record without
// name, version or checksum, or with a line break in a field, is an error,
// and then nothing is written.
func WriteIndex(w io.Writer, pkgs []*Package) error {
	for _, p := range pkgs {
		if err := checkRecord(p); err != nil {
			return fmt.Errorf("writing index: %w", err)
		}
	}
	bw := bufio.NewWriter(w)
	for _, p := range pkgs {
		writeRecordHeader(bw, p)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing index: %w", err)
	}
	return nil
}

// checkRecord refuses what writeRecordHeader cannot write so that it reads
// back: the fields every record has, and values that would break the line
// format.
func checkRecord(p *Package) error {
	if p == nil {
		return errors.New("nil package record")
	}
	if !ValidName(p.Name) || p.Version == "" || strings.ContainsAny(p.Version, " \t\n") {
		return fmt.Errorf("record %q-%q needs a valid name and version", p.Name, p.Version)
	}
	if len(p.Checksum) == 0 {
		return fmt.Errorf("record %s has no checksum (C:)", p)
	}
	for _, f := range []struct{ field, v string }{
		{"A", p.Arch}, {"T", p.Description}, {"U", p.URL}, {"L", p.License},
		{"o", p.Origin}, {"m", p.Maintainer}, {"c", p.Commit},
	} {
		if strings.ContainsAny(f.v, "\r\n") {
			return fmt.Errorf("record %s: field %s: %q holds a line break", p, f.field, f.v)
		}
	}
	for _, deps := range [][]Dependency{p.Depends, p.Provides, p.InstallIf, p.Replaces} {
		for _, d := range deps {
			if !ValidName(d.Name) || strings.ContainsAny(d.Version, " \t\r\n") {
				return fmt.Errorf("record %s: dependency %q cannot be written", p, d.String())
			}
		}
	}
	if p.Size < 0 || p.InstalledSize < 0 || p.BuildTime < 0 || p.ProviderPriority < 0 || p.ReplacesPriority < 0 {
		return fmt.Errorf("record %s has a negative number", p)
	}
	return nil
}

// writeRecordHeader writes the fields of p that an index record and an
// installed-database record share, in apk's order
// (apk_pkg_write_index_header). Errors stick in bw.
func writeRecordHeader(bw *bufio.Writer, p *Package) {
	field := func(f byte, v string) { writeField(bw, f, v) }
	optional := func(f byte, v string) {
		if v != "" {
			field(f, v)
		}
	}
	number := func(f byte, n int64) {
		if n != 0 {
			field(f, strconv.FormatInt(n, 10))
		}
	}
	field('C', FormatChecksum(p.Checksum))
	field('P', p.Name)
	field('V', p.Version)
	optional('A', p.Arch)
	field('S', strconv.FormatInt(p.Size, 10))
	field('I', strconv.FormatInt(p.InstalledSize, 10))
	field('T', p.Description)
	field('U', p.URL)
	field('L', p.License)
	optional('o', p.Origin)
	optional('m', p.Maintainer)
	number('t', p.BuildTime)
	optional('c', p.Commit)
	number('k', int64(p.ProviderPriority))
	writeDeps(bw, 'D', p.Depends)
	writeDeps(bw, 'p', p.Provides)
	writeDeps(bw, 'i', p.InstallIf)
}

// writeField writes one "X:value" line; errors stick in bw.
func writeField(bw *bufio.Writer, f byte, v string) {
	bw.WriteByte(f)
	bw.WriteByte(':')
	bw.WriteString(v)
	bw.WriteByte('\n')
}

// writeDeps writes a dependency field, atoms separated by one space; an
// empty list writes nothing.
func writeDeps(bw *bufio.Writer, f byte, deps []Dependency) {
	if len(deps) == 0 {
		return
	}
	bw.WriteByte(f)
	bw.WriteByte(':')
	for i, d := range deps {
		if i > 0 {
			bw.WriteByte(' ')
		}
		bw.WriteString(d.String())
	}
	bw.WriteByte('\n')
}
