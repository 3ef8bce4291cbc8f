package apk

import (
	"strings"
	"testing"
)

// TestSolveWithReasons checks each kind of edge: a world atom, a
// dependency through a provided name, a virtual name two packages provide
// (only the chosen one is required), install_if, and a conflict (no
// edge).
func TestSolveWithReasons(t *testing.T) {
	idx := indexOf(t, "", rec("app", "1", "D:so:libx.so.1 !gone")+
		rec("lib", "1", "p:so:libx.so.1=1", "D:base")+rec("base", "1")+
		rec("virt-a", "1", "p:virt")+rec("virt-b", "1", "p:virt")+rec("needs-virt", "1", "D:virt")+
		rec("man", "1")+rec("app-doc", "1", "i:app man")+rec("gone", "1"))
	sol, err := SolveWithReasons(mustWorld(t, "app needs-virt virt-b man"), []*Index{idx}, SolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Solve(mustWorld(t, "app needs-virt virt-b man"), []*Index{idx}, SolveOptions{})
	if err != nil || names(sol.Packages) != names(plain) {
		t.Errorf("SolveWithReasons packages = %s, want Solve's %s (%v)", names(sol.Packages), names(plain), err)
	}
	want := map[string]string{
		"app-1":        "world[app]",
		"lib-1":        "app-1[so:libx.so.1]",
		"base-1":       "lib-1[base]",
		"needs-virt-1": "world[needs-virt]",
		"virt-b-1":     "world[virt-b] needs-virt-1[virt]",
		"man-1":        "world[man]",
		"app-doc-1":    "install_if app-1[app] install_if man-1[man]",
	}
	for _, p := range sol.Packages {
		var got []string
		for _, r := range sol.Reasons[p] {
			s := "world"
			if r.By != nil {
				s = r.By.String()
			}
			if r.InstallIf {
				s = "install_if " + s
			}
			got = append(got, s+"["+r.Atom.String()+"]")
		}
		if g := strings.Join(got, " "); g != want[p.String()] {
			t.Errorf("SolveWithReasons: reasons of %s = %q, want %q", p, g, want[p.String()])
		}
		delete(want, p.String())
	}
	for p := range want {
		t.Errorf("SolveWithReasons: %s not installed", p)
	}
}
