package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string // substring of the error; "" for none
	}{
		{in: "", want: []string{}},
		{in: "# only a comment\n\n   \n", want: []string{}},
		{in: "bash\ncurl # a comment\n\tgit\t\n", want: []string{"bash", "curl", "git"}},
		{in: "py3-pip # community\nnodejs>=20\n!sudo\nfoo@edge\nlibc-dev=1.2-r0", want: []string{"py3-pip", "nodejs>=20", "!sudo", "foo@edge", "libc-dev=1.2-r0"}},
		{in: "bash\r\n", want: []string{"bash"}},
		{in: "bash curl\n", err: "p.txt:1: want one atom per line, got 2: bash curl"},
		{in: "ok\nnodejs>=x!y\n", err: "p.txt:2: "},
		{in: "ok\n>=1.0\n", err: "p.txt:2: "},
		{in: "bash\ngit\nbash>=5\n", err: "p.txt:3: bash is already on line 1"},
		{in: strings.Repeat("x", maxLine+1), err: "reading profile p.txt: a line is longer than"},
	} {
		got, err := Parse(strings.NewReader(tc.in), "p.txt")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%.40q) = %q, %v, want an error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("Parse(%.40q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	var pe *ParseError
	_, err := Parse(strings.NewReader("a\na b\n"), "mine.txt")
	if !errors.As(err, &pe) || pe.Source != "mine.txt" || pe.Line != 2 {
		t.Errorf("Parse(bad line 2) error = %#v, want a *ParseError for mine.txt line 2", err)
	}
}

func TestLoad(t *testing.T) {
	if !slices.Contains(Names(), Default) {
		t.Errorf("Names() = %q, want it to hold Default %q", Names(), Default)
	}
	base := []string{"alpine-baselayout", "alpine-keys", "apk-tools", "busybox", "busybox-binsh",
		"musl-utils", "ca-certificates-bundle", "openssh-server", "openssh-keygen", "openssh-sftp-server"}
	var smaller []string
	for _, name := range Names() {
		atoms, err := Load(name)
		if err != nil {
			t.Fatalf("Load(%s): %v", name, err)
		}
		for _, want := range base {
			if !slices.Contains(atoms, want) {
				t.Errorf("Load(%s) lacks %s, which every image needs", name, want)
			}
		}
		// Each profile holds the one before it: they are steps, not
		// alternatives.
		for _, want := range smaller {
			if !slices.Contains(atoms, want) {
				t.Errorf("Load(%s) lacks %s, which a smaller profile has", name, want)
			}
		}
		smaller = atoms
	}
	heavy, _ := Load("heavy")
	for _, want := range []string{"nodejs", "npm"} {
		if !slices.Contains(heavy, want) {
			t.Errorf("Load(heavy) lacks %s", want)
		}
	}
	if _, err := Load("nosuch"); err == nil || !strings.Contains(err.Error(), `unknown profile "nosuch" (built in: minimal, balanced, heavy)`) {
		t.Errorf("Load(nosuch) error = %v, want it to name the built-in profiles", err)
	}
	names := Names()
	names[0] = "changed"
	if Names()[0] != "minimal" {
		t.Errorf("Names() returned its own slice; a caller changed it")
	}
}

// builtinEntries returns every built-in profile's entries by profile name.
func builtinEntries(t *testing.T) map[string][]entry {
	t.Helper()
	all := map[string][]entry{}
	for _, name := range Names() {
		data, err := builtinFile(name)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := parseEntries(strings.NewReader(string(data)), name+".txt")
		if err != nil {
			t.Fatal(err)
		}
		all[name] = entries
	}
	return all
}

// community reports whether an entry is marked as coming from community.
func community(e entry) bool { return strings.HasPrefix(e.comment, "community") }

// v323Note is how an entry says why a main name absent from the old
// indexes is right for v3.23.
const v323Note = "v3.23:"

// checkNames returns a problem for each entry whose repository marking the
// real main indexes contradict: a main name found in none of them without
// a "v3.23:" comment saying why, or a name marked community that main has.
func checkNames(source string, entries []entry, inMain func(name string) bool) []string {
	var problems []string
	for _, e := range entries {
		switch name := e.dep.Name; {
		case community(e) && inMain(name):
			problems = append(problems, fmt.Sprintf("%s:%d: %s is marked community but is in a main index", source, e.line, name))
		case !community(e) && !inMain(name) && !strings.HasPrefix(e.comment, v323Note):
			problems = append(problems, fmt.Sprintf("%s:%d: %s is in no main index (v3.16 x86_64, v3.17 aarch64, the v3.23 subset): mark it \"# community\" or say why it is right with \"# %s ...\"", source, e.line, name, v323Note))
		}
	}
	return problems
}

func TestCheckNames(t *testing.T) {
	main := func(name string) bool { return name == "bash" || name == "moved" }
	entries, err := parseEntries(strings.NewReader(
		"bash\nnewname # v3.23: split from oldname in 2025\nnpm # community\nmissing # a comment that explains nothing\nmoved # community\n"), "p.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := checkNames("p.txt", entries, main)
	want := []string{
		`p.txt:4: missing is in no main index`,
		`p.txt:5: moved is marked community but is in a main index`,
	}
	if len(got) != len(want) {
		t.Fatalf("checkNames = %q, want %d problems like %q", got, len(want), want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("checkNames problem %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
}

// TestNamesInRealIndexes checks every built-in profile's names against
// Alpine's real main indexes: v3.16 x86_64 and v3.17 aarch64 (signed, and
// verified with the Alpine keys) and the unsigned v3.23 x86_64 subset. A
// package name or a name a package provides counts.
func TestNamesInRealIndexes(t *testing.T) {
	dir := filepath.Join(testenv.SharedTestdata(t), "indexes")
	inMain := map[string]bool{}
	for _, ix := range []struct {
		file, arch string
		untrusted  bool
	}{
		{"alpine-v3.16-main-x86_64.APKINDEX.tar.gz", "x86_64", false},
		{"alpine-v3.17-main-aarch64.APKINDEX.tar.gz", "aarch64", false},
		{"v3.23-x86_64-subset-unsigned.APKINDEX.tar.gz", "x86_64", true},
	} {
		keys, err := apk.AlpineKeys(ix.arch)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dir, ix.file))
		if err != nil {
			t.Fatal(err)
		}
		index, err := apk.ReadIndexArchive(f, keys, apk.IndexOptions{Source: ix.file, AllowUntrusted: ix.untrusted})
		f.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", ix.file, err)
		}
		if !ix.untrusted && !index.Trusted {
			t.Fatalf("%s did not verify", ix.file)
		}
		for _, p := range index.Packages {
			inMain[p.Name] = true
			for _, d := range p.Provides {
				inMain[d.Name] = true
			}
		}
	}
	if len(inMain) < 5000 {
		t.Fatalf("read %d names from the main indexes, want more than 5000", len(inMain))
	}
	for name, entries := range builtinEntries(t) {
		for _, problem := range checkNames(name+".txt", entries, func(n string) bool { return inMain[n] }) {
			t.Error(problem)
		}
	}
}

// TestProfilesResolve builds a signed main and community repository with
// one package per name the built-in profiles list (each in the repository
// its marking names) and resolves every profile against the two: the
// solver must select exactly the listed names.
func TestProfilesResolve(t *testing.T) {
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	mainRepo, communityRepo := apktest.NewRepo(key), apktest.NewRepo(key)
	communityRepo.Name = "community"
	all := builtinEntries(t)
	added := map[string]bool{}
	for _, name := range Names() {
		for _, e := range all[name] {
			if added[e.dep.Name] {
				continue
			}
			added[e.dep.Name] = true
			repo := mainRepo
			if community(e) {
				repo = communityRepo
			}
			if _, err := repo.Add(apktest.Pkg{Name: e.dep.Name, Version: "1.0-r0"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var indexes []*apk.Index
	for _, repo := range []*apktest.Repo{mainRepo, communityRepo} {
		archive, err := repo.IndexArchive()
		if err != nil {
			t.Fatal(err)
		}
		ix, err := apk.ReadIndexArchive(strings.NewReader(string(archive)), key.KeyRing(), apk.IndexOptions{Source: repo.Name})
		if err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, ix)
	}
	for _, name := range Names() {
		atoms, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		var world []apk.Dependency
		for _, a := range atoms {
			d, err := apk.ParseDependency(a)
			if err != nil {
				t.Fatal(err)
			}
			world = append(world, d)
		}
		pkgs, err := apk.Solve(world, indexes, apk.SolveOptions{})
		if err != nil {
			t.Errorf("Solve(%s): %v", name, err)
			continue
		}
		var got []string
		for _, p := range pkgs {
			got = append(got, p.Name)
			if wantRepo := repoOf(all[name], p.Name); p.Repository.Source != wantRepo {
				t.Errorf("Solve(%s): %s from %s, want %s", name, p.Name, p.Repository.Source, wantRepo)
			}
		}
		slices.Sort(got)
		want := append([]string(nil), atoms...)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("Solve(%s) selected %q, want %q", name, got, want)
		}
	}
}

func repoOf(entries []entry, name string) string {
	for _, e := range entries {
		if e.dep.Name == name && community(e) {
			return "community"
		}
	}
	return "main"
}
