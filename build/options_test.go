package build

import (
	"errors"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

func TestMirrorPath(t *testing.T) {
	tests := []struct {
		source, want string
	}{
		{"https://dl-cdn.alpinelinux.org/alpine/v3.23/main/x86_64/APKINDEX.tar.gz", "v3.23/main/x86_64"},
		{"http://127.0.0.1:8080/v3.23/community/x86_64/APKINDEX.tar.gz", "v3.23/community/x86_64"},
		{"file:///srv/mirror/edge/testing/x86_64/APKINDEX.tar.gz", "edge/testing/x86_64"},
		{"https://example.com/main/x86_64/APKINDEX.tar.gz", ""},                          // no branch
		{"https://example.com/v3.23/main/aarch64/APKINDEX.tar.gz", ""},                   // another arch
		{"https://example.com/v3.23/main/x86_64/Packages.adb", ""},                       // not a v2 index
		{"https://example.com/x/v3.23/main/x86_64/APKINDEX.tar.gz", "v3.23/main/x86_64"}, // deeper base
		{"https://example.com/../../x86_64/APKINDEX.tar.gz", ""},                         // would climb out of --dest
		{"file:///srv/v3.23/../x86_64/APKINDEX.tar.gz", ""},
		{"https://example.com/v3.23/./x86_64/APKINDEX.tar.gz", ""},
	}
	for _, tt := range tests {
		got, err := mirrorPath(&apk.Index{Source: tt.source}, "x86_64")
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("mirrorPath(%q) = %q, %v, want %q", tt.source, got, err, tt.want)
		}
	}
}

func TestCheckHostname(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"", true}, {"sandbox", true}, {"sbx-01.example.com", true}, {"a", true},
		{"-sandbox", false}, {"sandbox-", false}, {"a..b", false}, {"sand box", false},
		{"a/b", false}, {"host\nname", false}, {strings.Repeat("a", 64), false},
	}
	for _, tt := range tests {
		err := CheckHostname(tt.in)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("CheckHostname(%q) = %v, want ok %v (else a usage error)", tt.in, err, tt.ok)
		}
	}
}

// TestUnknownArchIsUsage: an arch Alpine has no keys for, without
// Options.Keys, is an option that cannot work (a command's exit status 2);
// with keys or AllowUntrusted it is the caller's to build for.
func TestUnknownArchIsUsage(t *testing.T) {
	tests := []struct {
		opts Options
		ok   bool
	}{
		{Options{}, false},
		{Options{AllowUntrusted: true}, true},
		{Options{Keys: apk.NewKeyRing()}, true},
	}
	for _, tt := range tests {
		_, err := newClient(tt.opts, "riscv99")
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("newClient(AllowUntrusted %v, Keys %v, \"riscv99\") = %v, want ok %v (else a usage error)",
				tt.opts.AllowUntrusted, tt.opts.Keys != nil, err, tt.ok)
		}
	}
}

// TestRepositoryErrorsAreUsage: a mirror or repository that does not
// parse is an option that cannot work (a command's exit status 2).
func TestRepositoryErrorsAreUsage(t *testing.T) {
	tests := []struct {
		mirrors, lines []string
		ok             bool
	}{
		{[]string{"ftp://x"}, nil, false},
		{[]string{"@t"}, nil, false},
		{nil, []string{"@tag"}, false},
		{[]string{"none"}, []string{"http://[::1"}, false},
		{[]string{"https://mirror.example/alpine"}, []string{"@t https://repo.example/main"}, true},
	}
	for _, tt := range tests {
		_, err := repositories(tt.mirrors, tt.lines, "v3.23")
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("repositories(%q, %q) = %v, want ok %v (else a usage error)", tt.mirrors, tt.lines, err, tt.ok)
		}
	}
}
