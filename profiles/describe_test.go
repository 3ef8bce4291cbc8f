package profiles

import (
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		name, wantDesc, wantSummary string
		wantAtom                    Atom // one of its atoms
	}{
		{"minimal", "minimal: the smallest image an agent can work in: a shell, git and curl, reached over ssh. Busybox gives",
			"the smallest image an agent can work in: a shell, git and curl, reached over ssh.",
			Atom{"alpine-keys", "Alpine's signing keys, so apk in the guest verifies"}},
		{"balanced", "balanced (the default): what agentic workloads reach for without asking:",
			"what agentic workloads reach for without asking: the GNU userland scripts assume, archives, search and inspection tools, an ssh client, editors, a C toolchain and Python with pip.",
			Atom{"openssh-server", ""}},
		{"heavy", "heavy: broader polyglot tooling on top of balanced:", "broader polyglot tooling on top of balanced:", Atom{"busybox-binsh", "/bin/sh"}},
	}
	for _, tt := range tests {
		p, err := Describe(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		atoms, _ := Load(tt.name)
		if !strings.HasPrefix(p.Description, tt.wantDesc) || strings.Contains(p.Description, "One apk atom per line") || len(p.Atoms) != len(atoms) {
			t.Errorf("Describe(%s) = %q with %d atoms, want a description starting %q without the format's paragraph, and Load's %d atoms",
				tt.name, p.Description, len(p.Atoms), tt.wantDesc, len(atoms))
		}
		if got := p.Summary(); !strings.HasPrefix(got, tt.wantSummary) || strings.Contains(got, ". ") {
			t.Errorf("Describe(%s).Summary() = %q, want the first sentence %q", tt.name, got, tt.wantSummary)
		}
		found := false
		for _, a := range p.Atoms {
			found = found || a == tt.wantAtom
		}
		if !found {
			t.Errorf("Describe(%s) atoms = %q, want %q among them", tt.name, p.Atoms, tt.wantAtom)
		}
	}
	if _, err := Describe("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Describe(nope) = %v, want an error naming it", err)
	}
}
