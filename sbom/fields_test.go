package sbom

import (
	"strings"
	"testing"
)

func TestDeclaredLicense(t *testing.T) {
	for _, tt := range []struct{ in, want, comment string }{
		{"MIT", "MIT", ""},
		{"mit", "MIT", ""},
		{"MPL-2.0 AND MIT", "MPL-2.0 AND MIT", ""},
		{"GPL-2.0-or-later OR Apache-2.0", "GPL-2.0-or-later OR Apache-2.0", ""},
		{"Apache-2.0 WITH LLVM-exception", "Apache-2.0 WITH LLVM-exception", ""},
		{"GPL-2.0", "GPL-2.0", ""}, // deprecated, still an identifier
		{"", "NOASSERTION", ""},
		{"custom", "NOASSERTION", `"custom"`},
		{"custom:multiple", "NOASSERTION", `"custom:multiple"`},
		{"GPL-2.0-or-later LGPL-2.1-or-later", "NOASSERTION", `"GPL-2.0-or-later LGPL-2.1-or-later"`},
		{"MIT and BSD-3-Clause", "NOASSERTION", `"MIT and BSD-3-Clause"`},
		{"LicenseRef-Foo", "NOASSERTION", `"LicenseRef-Foo"`},
		{"MIT OR LicenseRef-Foo", "NOASSERTION", `"MIT OR LicenseRef-Foo"`},
	} {
		got, comment := declaredLicense(tt.in)
		if got != tt.want || !strings.Contains(comment, tt.comment) || (tt.comment == "") != (comment == "") {
			t.Errorf("declaredLicense(%q) = %q, %q, want %q and a comment quoting %s", tt.in, got, comment, tt.want, tt.comment)
		}
	}
}

func TestSupplier(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Natanael Copa <ncopa@alpinelinux.org>", "Person: Natanael Copa (ncopa@alpinelinux.org)"},
		{"  Sören Tempel <soeren+alpine@soeren-tempel.net> ", "Person: Sören Tempel (soeren+alpine@soeren-tempel.net)"},
		{"<only@address>", "Person: only@address (only@address)"},
		{"Name Only", "Person: Name Only"},
		{"A (nick) B <a@b>", "Person: A nick B (a@b)"},
		{"", "NOASSERTION"},
	} {
		if got := supplier(tt.in); got != tt.want {
			t.Errorf("supplier(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPurlEscape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"busybox", "busybox"},
		{"1.37.0-r30", "1.37.0-r30"},
		{"libstdc++", "libstdc%2B%2B"},
		{"py3-foo_bar~1", "py3-foo_bar~1"},
		{"a b/c?d&e=f@g", "a%20b%2Fc%3Fd%26e%3Df%40g"},
	} {
		if got := purlEscape(tt.in); got != tt.want {
			t.Errorf("purlEscape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMajorMinor(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"3.23.2", "3.23"},
		{"3.23", "3.23"},
		{"3.24_alpha20251010", "3.24"},
		{"3", ""},
		{"edge", ""},
		{"3.23x", ""},
		{"", ""},
	} {
		if got := majorMinor(tt.in); got != tt.want {
			t.Errorf("majorMinor(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUUID5 against Python's uuid.uuid5(uuid.NAMESPACE_URL, name).
func TestUUID5(t *testing.T) {
	name := "sha256:" + strings.Repeat("0", 64)
	if got, want := uuid5(urlNamespace, name), "423f8113-94a2-5ec1-a2d7-4804b4fbbe5c"; got != want {
		t.Errorf("uuid5(URL, %q) = %s, want %s", name, got, want)
	}
}

func TestSPDXIDPart(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"busybox-binsh", "busybox-binsh"},
		{"libstdc++", "libstdc--"},
		{"py3.12_x", "py3.12-x"},
	} {
		if got := spdxIDPart(tt.in); got != tt.want {
			t.Errorf("spdxIDPart(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
