package profiles

import (
	"bufio"
	"bytes"
	"strings"
)

// Profile is a built-in profile as a person reads it.
type Profile struct {
	Name string
	// Description is the file's first comment paragraph, unwrapped:
	// what the profile is for.
	Description string
	Atoms       []Atom // in file order
}

// Atom is one atom of a profile and the comment on its line ("" if none).
type Atom struct {
	Atom    string
	Comment string
}

// Describe returns the built-in profile name with its description and
// the comment of each atom.
func Describe(name string) (*Profile, error) {
	data, err := builtinFile(name)
	if err != nil {
		return nil, err
	}
	entries, err := parseEntries(bytes.NewReader(data), name+".txt")
	if err != nil {
		return nil, err
	}
	p := &Profile{Name: name, Description: firstParagraph(data)}
	for _, e := range entries {
		p.Atoms = append(p.Atoms, Atom{Atom: e.atom, Comment: e.comment})
	}
	return p, nil
}

// Summary is the description's first sentence without the profile's name
// in front ("minimal: "), for a list of profiles.
func (p *Profile) Summary() string {
	s := p.Description
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	if rest, ok := strings.CutPrefix(s, p.Name); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			s = after
		}
	}
	return s
}

// firstParagraph is the comment lines at the top of a profile file, up to
// the first line that is not a comment with text, joined into one line.
func firstParagraph(data []byte) string {
	var words []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		text, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "#")
		if !ok || strings.TrimSpace(text) == "" {
			break
		}
		words = append(words, strings.Fields(text)...)
	}
	return strings.Join(words, " ")
}
