// Package profiles holds the package sets rootfs-synth builds images from:
// minimal, balanced (the default) and heavy, as the files minimal.txt,
// balanced.txt and heavy.txt beside this one, and parses profile files of
// the same form that users write.
//
// A profile file has one apk atom per line ("name", "name>=1.2",
// "name@tag", "!name": what /etc/apk/world holds); "#" starts a comment,
// at the start of a line or after an atom, and blank lines are ignored. A
// name may appear once. In the built-in profiles, a name from Alpine's
// community repository carries a comment starting with "community"; every
// other name is from main. Each file says in its comments why it holds what
// it holds.
//
// Left out on purpose: includes between profiles (each built-in file lists
// the base every image needs in full, so it reads on its own) and any
// arch- or branch-specific selection: a profile is a world, and the solver
// decides what it means for a repository.
package profiles

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// Default is the profile a build uses when none is given.
const Default = "balanced"

// names are the built-in profiles, smallest first.
var names = []string{"minimal", "balanced", "heavy"}

//go:embed minimal.txt balanced.txt heavy.txt
var builtin embed.FS

// Names returns the built-in profiles' names, smallest first.
func Names() []string { return append([]string(nil), names...) }

// Load returns the atoms of the built-in profile name, in file order.
func Load(name string) ([]string, error) {
	data, err := builtinFile(name)
	if err != nil {
		return nil, err
	}
	return Parse(bytes.NewReader(data), name+".txt")
}

func builtinFile(name string) ([]byte, error) {
	for _, n := range names {
		if n == name {
			return builtin.ReadFile(name + ".txt")
		}
	}
	return nil, fmt.Errorf("unknown profile %q (built in: %s)", name, strings.Join(names, ", "))
}

// A ParseError is a bad line of a profile file; it prints as
// "source:line: problem".
type ParseError struct {
	Source string // the file name, as given to Parse
	Line   int    // 1-based
	Err    error
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err) }

func (e *ParseError) Unwrap() error { return e.Err }

// maxLine bounds one line of a profile file.
const maxLine = 64 << 10

// Parse reads a profile file (see the package doc) and returns its atoms in
// file order, as written. source names the file in errors, which are
// *ParseError for a bad line: not exactly one atom, an atom apk would not
// parse, or a name given twice.
func Parse(r io.Reader, source string) ([]string, error) {
	entries, err := parseEntries(r, source)
	if err != nil {
		return nil, err
	}
	atoms := make([]string, len(entries))
	for i, e := range entries {
		atoms[i] = e.atom
	}
	return atoms, nil
}

// entry is one atom of a profile file and the comment on its line.
type entry struct {
	atom    string
	dep     apk.Dependency
	comment string // after "#", trimmed
	line    int
}

func parseEntries(r io.Reader, source string) ([]entry, error) {
	var (
		entries []entry
		seen    = map[string]int{} // name → line
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for n := 1; sc.Scan(); n++ {
		text, comment, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		switch len(fields) {
		case 0:
			continue
		case 1:
		default:
			return nil, &ParseError{source, n, fmt.Errorf("want one atom per line, got %d: %s", len(fields), strings.Join(fields, " "))}
		}
		dep, err := apk.ParseDependency(fields[0])
		if err != nil {
			return nil, &ParseError{source, n, err}
		}
		if first, dup := seen[dep.Name]; dup {
			return nil, &ParseError{source, n, fmt.Errorf("%s is already on line %d", dep.Name, first)}
		}
		seen[dep.Name] = n
		entries = append(entries, entry{atom: fields[0], dep: dep, comment: strings.TrimSpace(comment), line: n})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes", maxLine)
		}
		return nil, fmt.Errorf("reading profile %s: %w", source, err)
	}
	return entries, nil
}
