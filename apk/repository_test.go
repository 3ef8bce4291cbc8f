package apk

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRepositoryLine(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	const cdn = "https://dl-cdn.alpinelinux.org/alpine/v3.23"
	tests := []struct {
		in   string
		want []Repository
	}{
		{"", nil},
		{"   # a comment", nil},
		{cdn + "/main", []Repository{{URLs: []string{cdn + "/main"}}}},
		{cdn + "/main/", []Repository{{URLs: []string{cdn + "/main"}}}},
		{"http://mirror.example/alpine/v3.23/main # local", []Repository{{URLs: []string{"http://mirror.example/alpine/v3.23/main"}}}},
		{"v2 " + cdn + "/main", []Repository{{URLs: []string{cdn + "/main"}}}},
		{"@edge https://dl-cdn.alpinelinux.org/alpine/edge/testing",
			[]Repository{{URLs: []string{"https://dl-cdn.alpinelinux.org/alpine/edge/testing"}, Tag: "edge"}}},
		{cdn + " main community", []Repository{
			{URLs: []string{cdn + "/main"}},
			{URLs: []string{cdn + "/community"}},
		}},
		{"@x " + cdn + " http://m2/alpine/v3.23 main", []Repository{
			{URLs: []string{cdn + "/main", "http://m2/alpine/v3.23/main"}, Tag: "x"},
		}},
		{"file:///srv/alpine/v3.23/main", []Repository{{URLs: []string{"file:///srv/alpine/v3.23/main"}}}},
		{"file://localhost/srv/main", []Repository{{URLs: []string{"file:///srv/main"}}}},
		{"/srv/alpine/v3.23/main", []Repository{{URLs: []string{"file:///srv/alpine/v3.23/main"}}}},
		{"mirror/v3.23/main", []Repository{{URLs: []string{"file://" + filepath.ToSlash(filepath.Join(cwd, "mirror/v3.23/main"))}}}},
	}
	for _, tt := range tests {
		got, err := ParseRepositoryLine(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseRepositoryLine(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRepositoryLineErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"ftp://ftp.example/alpine/main", `scheme "ftp" is not supported`},
		{"https:///alpine/main", "has no host"},
		{"file://remote/alpine/main", "names a remote host"},
		{"https://x/alpine?y=1", "has a query"},
		{"v3 https://x/alpine/main", "index type v3 is not supported"},
		{"set APK_ARCH=x86_64", "variables are not supported"},
		{"@ https://x/main", "empty @tag"},
		{"@tag", "no URL"},
		{"https://x/alpine main https://y/alpine", "after a component"},
	}
	for _, tt := range tests {
		got, err := ParseRepositoryLine(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseRepositoryLine(%q) = %+v, %v, want error containing %q", tt.in, got, err, tt.wantErr)
		}
	}
}

func TestParseRepository(t *testing.T) {
	got, err := ParseRepository("@t https://a/main https://b/main")
	want := Repository{URLs: []string{"https://a/main", "https://b/main"}, Tag: "t"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseRepository(mirrors) = %+v, %v, want %+v", got, err, want)
	}
	if s := got.String(); s != "@t https://a/main https://b/main" {
		t.Errorf("Repository.String() = %q, want %q", s, "@t https://a/main https://b/main")
	}
	for _, in := range []string{"", "# nothing", "https://a/alpine main community"} {
		if got, err := ParseRepository(in); err == nil {
			t.Errorf("ParseRepository(%q) = %+v, nil, want an error", in, got)
		}
	}
}

func TestParseRepositories(t *testing.T) {
	in := "# /etc/apk/repositories\nhttps://a/v3.23/main\n\n@edge https://a/edge/testing\nftp://nope\n"
	_, err := ParseRepositories(strings.NewReader(in))
	if err == nil || !strings.HasPrefix(err.Error(), "repositories:5: ") {
		t.Fatalf("ParseRepositories(bad line 5) = %v, want an error starting with repositories:5:", err)
	}
	got, err := ParseRepositories(strings.NewReader(in[:strings.Index(in, "ftp")]))
	want := []Repository{{URLs: []string{"https://a/v3.23/main"}}, {URLs: []string{"https://a/edge/testing"}, Tag: "edge"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseRepositories() = %+v, %v, want %+v", got, err, want)
	}
}

// FuzzParseRepositoryLine: no panic, and every repository parsed prints as
// a line that parses back to the same repository.
func FuzzParseRepositoryLine(f *testing.F) {
	for _, s := range []string{
		"https://dl-cdn.alpinelinux.org/alpine/v3.23/main",
		"@edge https://dl-cdn.alpinelinux.org/alpine/edge/testing # pinned",
		"v2 https://a/alpine/v3.23 http://b/alpine/v3.23 main community",
		"file:///srv/mirror/v3.23/main",
		"relative/dir",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		repos, err := ParseRepositoryLine(line)
		if err != nil {
			return
		}
		for _, r := range repos {
			again, err := ParseRepository(r.String())
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Errorf("ParseRepository(%q) = %+v, %v, want %+v (from line %q)", r.String(), again, err, r, line)
			}
		}
	})
}
