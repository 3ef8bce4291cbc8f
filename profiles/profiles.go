// Package profiles holds the package lists of the build profiles
// (minimal, balanced, heavy), embedded. STUB: the real lists and parser are
// being written; the API below is what callers use.
package profiles

import (
	"errors"
	"io"
)

// Default is the profile a build uses when none is named.
const Default = "balanced"

// Names returns the profile names, sorted.
func Names() []string { return []string{"balanced", "heavy", "minimal"} }

// Load returns the atoms of the named profile.
func Load(name string) ([]string, error) { return nil, errors.New("profiles: not implemented yet") }

// Parse reads a profile file: one atom per line, # comments; errors read
// "source:line: ...".
func Parse(r io.Reader, source string) ([]string, error) {
	return nil, errors.New("profiles: not implemented yet")
}
