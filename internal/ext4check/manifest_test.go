package ext4check

import (
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
)

func TestFromEntries(t *testing.T) {
	mtime := time.Unix(1700000000, 123456789)
	content := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	entries := []ext4img.Entry{
		{Path: "etc", Mode: fs.ModeDir | 0o755, ModTime: mtime},
		{Path: "etc/a", Mode: fs.ModeSetuid | 0o755, UID: 1, GID: 2, ModTime: mtime, Size: 3, Content: content("abc"),
			Xattrs: map[string][]byte{"user.x": []byte("y")}},
		{Path: "dev", Mode: fs.ModeDir | 0o755},
		{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Devmajor: 1, Devminor: 3},
	}
	links := []Link{{"etc/b", "etc/a"}, {"c", "etc/b"}}
	m, err := FromEntries(entries, links)
	if err != nil {
		t.Fatal(err)
	}
	if m["/"] != nil {
		t.Errorf("FromEntries without a root entry has /: %+v", m["/"])
	}
	a := m["/etc/a"]
	if a.Perm != 0o4755 || a.MtimeNsec != 123456789 || a.SHA256 != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("FromEntries: /etc/a = %+v", a)
	}
	for _, p := range []string{"/etc/a", "/etc/b", "/c"} {
		if n := m[p]; n.Nlink != 3 || n.LinkGroup != "/c" {
			t.Errorf("FromEntries: %s nlink %d group %q, want 3 %q", p, n.Nlink, n.LinkGroup, "/c")
		}
	}
	if n := m["/dev/null"]; n.Type != 'c' || n.Major != 1 || n.Minor != 3 || n.Nlink != 1 || n.LinkGroup != "" {
		t.Errorf("FromEntries: /dev/null = %+v", n)
	}
	if _, err := FromEntries(entries, []Link{{"x", "etc"}}); err == nil {
		t.Errorf("FromEntries(link to a directory) = nil error")
	}
	short := []ext4img.Entry{{Path: "f", Size: 5, Content: content("abc")}}
	if _, err := FromEntries(short, nil); err == nil || !strings.Contains(err.Error(), "/f") {
		t.Errorf("FromEntries(short content) = %v, want an error naming /f", err)
	}
}

func TestCompare(t *testing.T) {
	base := func() Manifest {
		return Manifest{
			"/":    {Type: 'd', Perm: 0o755},
			"/f":   {Type: 'f', Perm: 0o644, Size: 1, SHA256: "aa", Nlink: 1, Mtime: 5, MtimeNsec: 7},
			"/l":   {Type: 'l', Perm: 0o777, Target: "f", Nlink: 1},
			"/dev": {Type: 'c', Perm: 0o600, Major: 1, Minor: 3, Nlink: 1},
		}
	}
	tests := []struct {
		name   string
		change func(Manifest)
		opts   Options
		want   []string
	}{
		{"same", func(Manifest) {}, Options{}, nil},
		{"lost+found only in image", func(m Manifest) { m["/lost+found"] = &Node{Type: 'd'} }, Options{}, nil},
		{"extra", func(m Manifest) { m["/x"] = &Node{Type: 'p'} }, Options{}, []string{"/x: unexpected FIFO in image"}},
		{"missing", func(m Manifest) { delete(m, "/l") }, Options{}, []string{"/l: missing symlink"}},
		{"target", func(m Manifest) { m["/l"].Target = "g" }, Options{}, []string{`/l: target = "g", want "f"`}},
		{"device", func(m Manifest) { m["/dev"].Minor = 5 }, Options{}, []string{"/dev: device = 1:5, want 1:3"}},
		{"nsec", func(m Manifest) { m["/f"].MtimeNsec = 0 }, Options{}, []string{"/f: mtime ns = 0, want 7"}},
		{"nsec ignored", func(m Manifest) { m["/f"].MtimeNsec = 0 }, Options{NoMtimeNsec: true}, nil},
		{"nsec unknown", func(m Manifest) { m["/f"].MtimeNsec = -1 }, Options{}, []string{"/f: mtime ns unknown, want 7"}},
		{"nsec unknown ignored", func(m Manifest) { m["/f"].MtimeNsec = -1 }, Options{NoMtimeNsec: true}, nil},
		{"owner", func(m Manifest) { m["/f"].UID = 9 }, Options{}, []string{"/f: uid = 9, want 0"}},
		{"owner ignored", func(m Manifest) { m["/f"].UID = 9 }, Options{NoOwner: true}, nil},
		{"root mode", func(m Manifest) { m["/"].Perm = 0o700 }, Options{}, []string{"/: mode = 0700, want 0755"}},
		{"root ignored", func(m Manifest) { m["/"].Perm = 0o700 }, Options{NoRootAttrs: true}, nil},
		{"link group", func(m Manifest) { m["/f"].LinkGroup, m["/f"].Nlink = "/a", 2 }, Options{},
			[]string{"/f: nlink = 2, want 1", `/f: hard-link group = "/a", want ""`}},
		{"xattr", func(m Manifest) { m["/f"].Xattrs = map[string]string{"user.a": strings.Repeat("v", 60)} }, Options{},
			[]string{"/f: xattr user.a unexpected (60 bytes sha256:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base()
			tt.change(got)
			diffs := Compare(base(), got, tt.opts)
			ok := len(diffs) == len(tt.want)
			for i := 0; ok && i < len(diffs); i++ {
				ok = strings.HasPrefix(diffs[i], tt.want[i])
			}
			if !ok {
				t.Errorf("Compare = %q, want %q", diffs, tt.want)
			}
		})
	}
	if d := Compare(base(), base(), Options{}); !slices.Equal(d, nil) {
		t.Errorf("Compare(same) = %q", d)
	}
}

func TestFromDirNames(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{".profile", "..x", "etc/.hidden"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(maps.Keys(m))
	want := []string{"/", "/..x", "/.profile", "/etc", "/etc/.hidden"}
	if !slices.Equal(got, want) {
		t.Errorf("FromDir(tree) = paths %q, want %q", got, want)
	}
}
