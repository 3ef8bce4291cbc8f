package profiles

import (
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// FuzzParse: Parse never panics, and what it accepts is a list of distinct
// atoms apk parses, which Parse reads back unchanged from one atom a line.
// Seeds: the built-in profiles and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range Names() {
		data, err := builtinFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, in string) {
		atoms, err := Parse(strings.NewReader(in), "fuzz.txt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.txt:") && !strings.HasPrefix(err.Error(), "reading profile fuzz.txt") {
				t.Fatalf("Parse error %q does not name the source", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, a := range atoms {
			d, err := apk.ParseDependency(a)
			if err != nil {
				t.Fatalf("Parse accepted %q, which apk.ParseDependency refuses: %v", a, err)
			}
			if seen[d.Name] {
				t.Fatalf("Parse returned %s twice", d.Name)
			}
			seen[d.Name] = true
		}
		again, err := Parse(strings.NewReader(strings.Join(atoms, "\n")), "again.txt")
		if err != nil || strings.Join(again, "\n") != strings.Join(atoms, "\n") {
			t.Fatalf("Parse(Parse(%q) one a line) = %q, %v, want %q", in, again, err, atoms)
		}
	})
}
