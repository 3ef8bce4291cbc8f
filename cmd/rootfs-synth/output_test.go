package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func quietUI() *ui { return newUI(io.Discard, true, false) }

// dirNames lists dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestImagePath(t *testing.T) {
	home := filepath.Join("home", "u")
	tests := []struct {
		name, want string
	}{
		{"alpine-agentic.ext4", filepath.Join(home, ".sbx", "images", "alpine-agentic.ext4")},
		{"alpine-heavy.ext4.zst", filepath.Join(home, ".sbx", "images", "alpine-heavy.ext4.zst")},
		{"", ""},
		{".", ""},
		{"..", ""},
		{"a/b.ext4", ""},
		{`C:\images\a.ext4`, ""},
		{`a\b.ext4`, ""},
	}
	for _, tt := range tests {
		got, err := imagePath(home, tt.name)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("imagePath(%q, %q) = %q, %v, want %q", home, tt.name, got, err, tt.want)
		}
	}
}

func TestPackageAtoms(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"git"}, "git"},
		{[]string{"git curl", "python3,py3-pip", " vim ,, "}, "git|curl|python3|py3-pip|vim"},
		{[]string{"musl>=1.2", "foo@edge"}, "musl>=1.2|foo@edge"},
	}
	for _, tt := range tests {
		if got := strings.Join(packageAtoms(tt.in), "|"); got != tt.want {
			t.Errorf("packageAtoms(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {64 << 20, "64.0 MiB"}, {3 << 30, "3.0 GiB"},
	}
	for _, tt := range tests {
		if got := sizeString(tt.in); got != tt.want {
			t.Errorf("sizeString(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"fetching x: refused", "fetching x: refused"},
		{"index of main: refused\nindex of community: refused", "index of main: refused; index of community: refused"},
		{"unable to select packages:\n  a-1-r0:\n    breaks: world[a><Q1AA]\n", "unable to select packages: a-1-r0: breaks: world[a><Q1AA]"},
	}
	for _, tt := range tests {
		if got := oneLine(errors.New(tt.in)).Error(); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
