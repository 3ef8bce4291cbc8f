package main

import (
	"strings"
	"testing"
)

// TestOutputHelpSaysZst (issue 16, the frictions): the -o flag's help
// says when to prefer .zst over .xz (several times faster, about as
// small), so that a person does not wait minutes for xz unasked.
func TestOutputHelpSaysZst(t *testing.T) {
	for _, f := range buildFlags() {
		if f.Names()[0] != "output" {
			continue
		}
		usage := strings.Join(strings.Fields(f.String()), " ")
		for _, want := range []string{".zst", ".xz", "faster"} {
			if !strings.Contains(usage, want) {
				t.Errorf("-o help = %q, want it to say %q", usage, want)
			}
		}
		return
	}
	t.Fatal("the build has no --output flag")
}
