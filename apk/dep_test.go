package apk

import (
	"reflect"
	"testing"
)

func TestParseDependency(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Dependency
		str  string // String() when it differs from in
	}{
		{in: "busybox", want: Dependency{Name: "busybox", Op: OpAny}},
		{in: "so:libc.musl-x86_64.so.1", want: Dependency{Name: "so:libc.musl-x86_64.so.1", Op: OpAny}},
		{in: "/bin/sh", want: Dependency{Name: "/bin/sh", Op: OpAny}},
		{in: "cmd:sh=1.37.0-r30", want: Dependency{Name: "cmd:sh", Op: OpEqual, Version: "1.37.0-r30"}},
		{in: "pc:freetype2>=9.8.3", want: Dependency{Name: "pc:freetype2", Op: OpGreater | OpEqual, Version: "9.8.3"}},
		{in: "a<2", want: Dependency{Name: "a", Op: OpLess, Version: "2"}},
		{in: "a<=2", want: Dependency{Name: "a", Op: OpLess | OpEqual, Version: "2"}},
		{in: "a>2", want: Dependency{Name: "a", Op: OpGreater, Version: "2"}},
		{in: "a~2.2", want: Dependency{Name: "a", Op: OpFuzzy | OpEqual, Version: "2.2"}},
		{in: "a=~2.2", want: Dependency{Name: "a", Op: OpFuzzy | OpEqual, Version: "2.2"}, str: "a~2.2"},
		{in: "a>~2.5", want: Dependency{Name: "a", Op: OpFuzzy | OpEqual | OpGreater, Version: "2.5"}},
		{in: "a<~2.5", want: Dependency{Name: "a", Op: OpFuzzy | OpEqual | OpLess, Version: "2.5"}},
		{in: "!b>1", want: Dependency{Name: "b", Conflict: true, Op: OpGreater, Version: "1"}},
		{in: "!openssh-client", want: Dependency{Name: "openssh-client", Conflict: true, Op: OpAny}},
		{in: "a@testing", want: Dependency{Name: "a", Tag: "testing", Op: OpAny}},
		{in: "a@testing>=3", want: Dependency{Name: "a", Tag: "testing", Op: OpGreater | OpEqual, Version: "3"}},
		{in: "a=>3", want: Dependency{Name: "a", Op: OpGreater | OpEqual, Version: "3"}, str: "a>=3"},
		{in: "a><Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=", want: Dependency{Name: "a", Op: OpChecksum, Version: "Q1C4uoV7SdMdDhYg4OCVmI71D8HIA="}},
	} {
		got, err := ParseDependency(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDependency(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
			continue
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got := got.String(); got != str {
			t.Errorf("ParseDependency(%q).String() = %q, want %q", tt.in, got, str)
		}
	}
}

func TestParseDependencyErrors(t *testing.T) {
	for _, in := range []string{
		"", "!", "foo=", "foo==", "foo=invalid", "foo<>=1", "=1", "foo@", "foo@>1",
		"foo bar", "foo\t", "a><Q2abc", "a><Q1short", "fo\x00o", "foo>1 ",
	} {
		if d, err := ParseDependency(in); err == nil {
			t.Errorf("ParseDependency(%q) = %+v, want an error", in, d)
		}
	}
}

func TestParseDependencies(t *testing.T) {
	got, err := ParseDependencies("  so:libc.musl-x86_64.so.1  cmd:sh=1.0 !foo ")
	want := []Dependency{
		{Name: "so:libc.musl-x86_64.so.1", Op: OpAny},
		{Name: "cmd:sh", Op: OpEqual, Version: "1.0"},
		{Name: "foo", Conflict: true, Op: OpAny},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDependencies = %+v, %v, want %+v", got, err, want)
	}
	if got, err := ParseDependencies(""); err != nil || len(got) != 0 {
		t.Errorf(`ParseDependencies("") = %+v, %v, want none`, got, err)
	}
}

func TestMatchesVersion(t *testing.T) {
	for _, tt := range []struct {
		dep, v string
		want   bool
	}{
		{"a", "1", true},
		{"a>1", "1", false},
		{"a>=1", "1", true},
		{"a~2.2", "2.2.9", true},
		{"a~2.2", "2.20", false},
		{"a>~2.5", "2.10", true},
		{"a>~2.5", "2.5.1", true},
		{"a<~2.5", "2.5.1", true},
		{"a<~2.5", "2.6", false},
		{"!b>1", "2", true}, // the conflict flag is not the version part
	} {
		d, err := ParseDependency(tt.dep)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.MatchesVersion(tt.v); got != tt.want {
			t.Errorf("ParseDependency(%q).MatchesVersion(%q) = %v, want %v", tt.dep, tt.v, got, tt.want)
		}
	}
}

func FuzzParseDependency(f *testing.F) {
	for _, s := range []string{"a", "!b>1", "a@t>=1.2-r3", "so:x.so.1", "a~1", "a><Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=", "a=~1", "foo=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDependency(s)
		if err != nil {
			return
		}
		str := d.String()
		d2, err := ParseDependency(str)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("ParseDependency(%q) = %+v; its String %q parses as %+v, %v", s, d, str, d2, err)
		}
		if d2.String() != str {
			t.Fatalf("String of %q is not stable: %q then %q", s, str, d2.String())
		}
	})
}

// TestParseWorldAtom: an atom a person writes (a world atom) must spell
// its operator as apk prints it; the runs apk-tools folds into one
// operator (">>=", "=>", "<<") are refused rather than rewritten, while
// ParseDependency, which reads index lines, still folds them.
func TestParseWorldAtom(t *testing.T) {
	for _, in := range []string{
		"busybox", "musl>=1.2", "a<2", "a<=2", "a>2", "a=1", "a~2.2", "a<~2.5", "a>~2.5", "!b>1",
		"a@testing>=3", "so:libc.musl-x86_64.so.1", "a><Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=",
	} {
		d, err := ParseWorldAtom(in)
		if err != nil || d.String() != in {
			t.Errorf("ParseWorldAtom(%q) = %q, %v, want %q", in, d, err, in)
		}
	}
	for _, in := range []string{"musl>>=1", "musl=>1", "a=~2.2", "a~=2.2", "a<<2", "a>=<2", "a==1", "", "foo=", "foo bar"} {
		if d, err := ParseWorldAtom(in); err == nil {
			t.Errorf("ParseWorldAtom(%q) = %q, want an error", in, d)
		}
	}
	if d, err := ParseDependency("musl>>=1"); err != nil || d.String() != "musl>=1" {
		t.Errorf(`ParseDependency("musl>>=1") = %q, %v, want "musl>=1" as apk-tools reads it`, d, err)
	}
}
