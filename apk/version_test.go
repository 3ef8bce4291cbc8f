package apk

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestVersionData runs apk-tools' own vectors (test/unit/version.data):
// "a op b" must hold, "a !op b" must not, "v" must be valid, "!v" invalid.
func TestVersionData(t *testing.T) {
	path := filepath.Join(testenv.SharedTestdata(t), "apk-tools", "version.data")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, checked := 0, 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch len(fields) {
		case 0:
			continue
		case 1:
			v, want := fields[0], true
			if strings.HasPrefix(v, "!") {
				v, want = v[1:], false
			}
			if got := ValidVersion(v); got != want {
				t.Errorf("version.data:%d: ValidVersion(%q) = %v, want %v", n, v, got, want)
			}
		case 3:
			a, op, b := fields[0], fields[1], fields[2]
			invert := strings.HasPrefix(op, "!")
			op = strings.TrimPrefix(op, "!")
			vop, ok := parseOp(op)
			if !ok {
				t.Fatalf("version.data:%d: unknown operator %q", n, op)
			}
			d := Dependency{Name: "x", Op: vop, Version: b}
			if got := d.MatchesVersion(a); got == invert {
				t.Errorf("version.data:%d: %q %s %q = %v, want %v (CompareVersions = %d)",
					n, a, op, b, got, !invert, CompareVersions(a, b))
			}
			if !invert && vop&OpFuzzy == 0 {
				// The plain relations must also come out of CompareVersions,
				// and reversed when the operands swap.
				want := map[VersionOp]int{OpLess: -1, OpEqual: 0, OpGreater: 1}[vop]
				if got := CompareVersions(a, b); got != want {
					t.Errorf("version.data:%d: CompareVersions(%q, %q) = %d, want %d", n, a, b, got, want)
				}
				if got := CompareVersions(b, a); got != -want {
					t.Errorf("version.data:%d: CompareVersions(%q, %q) = %d, want %d", n, b, a, got, -want)
				}
			}
		default:
			t.Fatalf("version.data:%d: cannot read %q", n, sc.Text())
		}
		checked++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if checked < 700 {
		t.Fatalf("checked only %d lines of %s", checked, path)
	}
	t.Logf("checked %d of %d lines", checked, n)
}

func TestValidVersion(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"1", true},
		{"1.2.3", true},
		{"1.2.3a", true},
		{"1.2.3_alpha", true},
		{"1.2.3_alpha2_p1", true},
		{"1.2.3_rc1-r0", true},
		{"1.37.0-r30", true},
		{"1.0~abc123-r1", true},
		{"0.1_pre2~1234abcd", true},
		{"20251003-r0", true},
		{"", false},
		{"a", false},
		{".1", false},
		{"1.", false},
		{"1..2", false},
		{"1.2ab", false},
		{"1.2_foo", false},
		{"1.2_", false},
		{"1.2-r", false},
		{"1.2-r1-r2", false},
		{"1.2-x1", false},
		{"1.2~", false},
		{"1.2~xyz", false},
		{"1.2~abc~def", false},
		{"1.2-r1_p1", false},
		{"1.2-r1.3", false},
		{"1.2 ", false},
		{"1.2a.3", false},
	} {
		if got := ValidVersion(tt.in); got != tt.want {
			t.Errorf("ValidVersion(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.0.0", -1},
		{"1.0_alpha", "1.0", -1},
		{"1.0_p1", "1.0", 1},
		{"1.0a", "1.0.1", -1},
		{"1.01", "1.1", -1},  // leading zero: string order
		{"1.10", "1.9", 1},   // numbers
		{"1.010", "1.01", 1}, // string order, longer wins
		{"1.0-r1", "1.0-r10", -1},
		{"1.0~aa", "1.0~b", -1},
		{"18446744073709551616", "0", 0}, // wraps like apk's uint64
		{"abc", "abd", 0},                // both invalid from the start
	} {
		if got := CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][2]string{{"1.0", "1.0_alpha"}, {"1.2.3a_p1-r2", "1.2.3~ab"}, {"01", "1"}, {"1.0-r1", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := CompareVersions(a, b), CompareVersions(b, a)
		if ab != -ba {
			t.Fatalf("CompareVersions(%q, %q) = %d but CompareVersions(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if CompareVersions(a, a) != 0 {
			t.Fatalf("CompareVersions(%q, %q) != 0", a, a)
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.0_alpha1_p2~abc-r3", "1..2", "", "1.2-r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !ValidVersion(v) {
			return
		}
		// A valid version parses as the version of an atom and matches itself.
		d, err := ParseDependency("x=" + v)
		if err != nil {
			t.Fatalf("ParseDependency(%q) = %v for a valid version", "x="+v, err)
		}
		if !d.MatchesVersion(v) {
			t.Fatalf("%v does not match version %q", d, v)
		}
		if ValidVersion(v + "-r1-r1") {
			t.Fatalf("ValidVersion(%q) = true", v+"-r1-r1")
		}
	})
}
