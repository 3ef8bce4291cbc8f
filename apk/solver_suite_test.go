package apk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// solverSkips are the cases of apk-tools' solver suite that exercise what a
// fresh-image builder has no use for, by name.
var solverSkips = map[string]string{
	"basic8":    "-t virtual world package (and --no-network)",
	"basic9":    "-t virtual world package over an installed db",
	"basic10":   "--force-broken-world",
	"basic11":   "--force-broken-world",
	"basic16":   "--no-network over an installed db",
	"error6":    "-t virtual world package",
	"error7":    "-t virtual world package",
	"pinning14": "-t virtual world package",
}

// solverCase is one apk-tools solver test: `apk add` of World over Repos.
type solverCase struct {
	name   string
	args   []string
	repos  []solverRepo
	expect []string
	fresh  bool   // no installed db, world or cache: what Solve is for
	arch   string // --arch
}

type solverRepo struct{ tag, file string }

func readSolverCase(name string, r io.Reader) (*solverCase, error) {
	c := &solverCase{name: name, fresh: true}
	inExpect := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		ln := sc.Text()
		switch {
		case strings.HasPrefix(ln, "@ARGS "):
			c.args = append(c.args, strings.Fields(ln[len("@ARGS "):])...)
		case strings.HasPrefix(ln, "@REPO @"):
			tag, file, _ := strings.Cut(ln[len("@REPO "):], " ")
			c.repos = append(c.repos, solverRepo{tag: strings.TrimPrefix(tag, "@"), file: file})
		case strings.HasPrefix(ln, "@REPO "):
			c.repos = append(c.repos, solverRepo{file: ln[len("@REPO "):]})
		case strings.HasPrefix(ln, "@INSTALLED "), strings.HasPrefix(ln, "@WORLD "), strings.HasPrefix(ln, "@CACHE "):
			c.fresh = false
		case ln == "@EXPECT":
			inExpect = true
		case strings.HasPrefix(ln, "@"):
			return nil, fmt.Errorf("%s: unknown directive %q", name, ln)
		case inExpect:
			c.expect = append(c.expect, ln)
		}
	}
	return c, sc.Err()
}

// caseFiles opens the files a case refers to.
type caseFiles func(name string) (io.ReadCloser, error)

// readBundle splits a txtar bundle ("-- name --" lines, then the file) into
// its files; text before the first one is a comment.
func readBundle(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	name := ""
	for _, ln := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(ln, "-- ") && strings.HasSuffix(ln, " --\n") {
			name = strings.TrimSuffix(strings.TrimPrefix(ln, "-- "), " --\n")
			files[name] = ""
			continue
		}
		if name != "" {
			files[name] += ln
		}
	}
	return files
}

var installingLine = regexp.MustCompile(`^\( *\d+/\d+\) Installing (\S+) \((\S+)\)$`)

// TestSolverSuite runs apk-tools' own solver cases (test/solver), or those
// of the directory $ROOTFS_SYNTH_SOLVER_CASES.
func TestSolverSuite(t *testing.T) {
	dir := os.Getenv("ROOTFS_SYNTH_SOLVER_CASES")
	if dir == "" {
		dir = filepath.Join(testenv.SharedTestdata(t), "apk-tools", "solver")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.test"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no solver cases in %s (%v)", dir, err)
	}
	sort.Strings(files)
	var cases []*solverCase
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		c, err := readSolverCase(strings.TrimSuffix(filepath.Base(file), ".test"), f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	runSolverCases(t, dir, cases, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, name))
	})
}

// TestSolverDifferential runs random cases whose answers apk-tools gave
// (testdata/solver-differential/README).
func TestSolverDifferential(t *testing.T) {
	bundle := readBundle(t, filepath.Join("testdata", "solver-differential", "cases.txtar"))
	var cases []*solverCase
	for name, text := range bundle {
		if base, ok := strings.CutSuffix(name, ".test"); ok {
			c, err := readSolverCase(base, strings.NewReader(text))
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, c)
		}
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].name < cases[j].name })
	if len(cases) < 90 {
		t.Fatalf("only %d cases in the bundle", len(cases))
	}
	runSolverCases(t, "solver-differential", cases, func(name string) (io.ReadCloser, error) {
		text, ok := bundle[name]
		if !ok {
			return nil, fmt.Errorf("no %s in the bundle", name)
		}
		return io.NopCloser(strings.NewReader(text)), nil
	})
}

func runSolverCases(t *testing.T, where string, cases []*solverCase, open caseFiles) {
	var passed, skipped, failed int
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				switch {
				case t.Skipped():
					skipped++
				case t.Failed():
					failed++
				default:
					passed++
				}
			}()
			if reason, ok := solverSkips[c.name]; ok {
				t.Skip(reason)
			}
			if len(c.args) > 2 && c.args[0] == "--arch" {
				c.arch, c.args = c.args[1], c.args[2:]
			}
			if !c.fresh || len(c.args) == 0 || c.args[0] != "add" {
				// Upgrades, removals, fix and anything over an installed
				// database: not what a fresh image needs.
				t.Skipf("not a fresh install: %v", c.args)
			}
			runSolverCase(t, open, c)
		})
	}
	t.Logf("solver cases %s: %d passed, %d skipped, %d failed", where, passed, skipped, failed)
	if passed == 0 {
		t.Errorf("no solver case of %s ran to a comparison", where)
	}
}

func runSolverCase(t *testing.T, open caseFiles, c *solverCase) {
	var world []Dependency
	for _, a := range c.args[1:] {
		if strings.HasPrefix(a, "-") {
			t.Fatalf("unknown option %q: skip the case by name or support it", a)
		}
		d, err := ParseDependency(a)
		if err != nil {
			want := fmt.Sprintf("ERROR: '%s' is not a valid world dependency", a)
			if len(c.expect) == 0 || !strings.HasPrefix(c.expect[0], want) {
				t.Fatalf("ParseDependency(%q) = %v, but apk accepts it", a, err)
			}
			return
		}
		world = append(world, d)
	}
	var indexes []*Index
	for _, r := range c.repos {
		f, err := open(r.file)
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := ParseIndex(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", r.file, err)
		}
		idx := &Index{Source: r.file, Tag: r.tag, Packages: pkgs}
		for _, p := range pkgs {
			p.Repository = idx
		}
		indexes = append(indexes, idx)
	}
	sol, err := solve(world, indexes, SolveOptions{Arch: c.arch})

	var want []string // "name@tag version" per Installing line
	wantErr := false
	for _, ln := range c.expect {
		if strings.HasPrefix(ln, "ERROR:") {
			wantErr = true
		}
	}
	for _, ln := range c.expect {
		m := installingLine.FindStringSubmatch(ln)
		switch {
		case m != nil:
			want = append(want, m[1]+" "+m[2])
		case wantErr, strings.HasPrefix(ln, "OK:"), strings.HasPrefix(ln, "WARNING:"):
		default:
			t.Fatalf("cannot read expected line %q", ln)
		}
	}
	if wantErr {
		var se *SolveError
		if !errors.As(err, &se) {
			t.Fatalf("solve(%v) = %v, %v; want a *SolveError:\n%s", c.args[1:], describe(sol), err, strings.Join(c.expect, "\n"))
		}
		var expect []string
		for _, ln := range c.expect {
			if !strings.HasPrefix(ln, "WARNING:") {
				expect = append(expect, ln)
			}
		}
		if got, want := "ERROR: "+err.Error(), strings.Join(expect, "\n"); got != want {
			t.Errorf("solve(%v) error =\n%s\nwant\n%s", c.args[1:], got, want)
		}
		return
	}
	if err != nil {
		t.Fatalf("solve(%v) = %v, want\n%s", c.args[1:], err, strings.Join(want, "\n"))
	}
	if got := describe(sol); !equalStrings(got, want) {
		t.Errorf("solve(%v) =\n%s\nwant\n%s", c.args[1:], strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func describe(sol *solution) []string {
	if sol == nil {
		return nil
	}
	var out []string
	for _, in := range sol.installs {
		out = append(out, in.pkg.Name+in.tag+" "+in.pkg.Version)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
