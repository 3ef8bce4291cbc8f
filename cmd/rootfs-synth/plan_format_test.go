package main

import (
	"testing"

	"github.com/rootfs-synth/rootfs-synth/build"
)

func TestWhyColumn(t *testing.T) {
	tests := []struct {
		name string
		reqs []build.Requirement
		want string
	}{
		{"busybox", []build.Requirement{{Atom: "busybox"}, {By: "busybox-binsh", Atom: "busybox=1.37.0-r30"}}, "world; required by busybox-binsh"},
		{"shiny", []build.Requirement{{Atom: "shiny@edge"}}, "world shiny@edge"},
		{"musl", []build.Requirement{{By: "a", Atom: "so:libc.musl-x86_64.so.1"}, {By: "b", Atom: "musl>=1.2"},
			{By: "c", Atom: "musl"}, {By: "d", Atom: "musl"}, {By: "e", Atom: "musl"}},
			"required by a (so:libc.musl-x86_64.so.1), b, c and 2 more"},
		{"app-doc", []build.Requirement{{By: "app", Atom: "app", InstallIf: true}, {By: "man", Atom: "man", InstallIf: true}}, "install_if app, man"},
	}
	for _, tt := range tests {
		if got := whyColumn(build.PlannedPackage{Name: tt.name, RequiredBy: tt.reqs}); got != tt.want {
			t.Errorf("whyColumn(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
