package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/build"
)

// TestConfigCoversFlags: the build file cannot fall behind the flags:
// every flag of the build has a key or is listed in notInConfig, and
// every key and listed flag is a flag of the build.
func TestConfigCoversFlags(t *testing.T) {
	flags := map[string]bool{}
	for _, f := range buildFlags() {
		name := f.Names()[0]
		flags[name] = true
		_, listed := notInConfig[name]
		has := false
		for _, k := range configKeys {
			has = has || k.flag == name
		}
		if has == listed {
			t.Errorf("flag --%s: has a key %v, listed in notInConfig %v; want exactly one", name, has, listed)
		}
	}
	for _, k := range configKeys {
		if !flags[k.flag] {
			t.Errorf("key %q gives its values to --%s, which the build does not have", k.key, k.flag)
		}
	}
	for name := range notInConfig {
		if !flags[name] {
			t.Errorf("notInConfig lists --%s, which the build does not have", name)
		}
	}
}

// configWorld is a directory holding what a build file names: an
// overlay, a key, authorized keys, a profile and a lock.
func configWorld(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"overlay/etc/motd":    "hi\n",
		"keys/" + key.Name:    string(key.PublicPEM()),
		"id.pub":              "ssh-ed25519 AAAAC3Nza test\n",
		"profile.txt":         "base\n",
		"lock.json":           `{"arch":"x86_64","world":["app"],"packages":[{"name":"app","version":"0.9-r0","checksum":"Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`,
		"mirror/v3.23/.keep":  "",
		"repo/main/.keep":     "",
		"sub/elsewhere/.keep": "",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// optionsOf runs `rootfs-synth args...` up to the build.Options it would
// build with, from the working directory wd.
func optionsOf(t *testing.T, wd string, args ...string) (build.Options, string, int) {
	t.Helper()
	t.Chdir(wd)
	var opts build.Options
	app := newApp(time.Unix(1700000000, 0))
	app.ErrWriter = io.Discard
	app.Action = func(cCtx *cli.Context) error {
		origins, err := applyConfig(cCtx, cCtx.App.Flags)
		if err != nil {
			return err
		}
		opts, err = buildOptions(cCtx)
		return origins.rename(flagError(err, cCtx.String("lock")))
	}
	var stderr bytes.Buffer
	code := run(context.Background(), app, args, &stderr)
	return opts, stderr.String(), code
}

// TestConfigOptions: a build file gives the build the Options its flags
// would, with its relative paths taken from its own directory (the run
// is from another); a flag given on the command line replaces its key
// (and --lock the profile and packages), the rest of the file stays.
func TestConfigOptions(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dir := configWorld(t)
	elsewhere := filepath.Join(dir, "sub", "elsewhere")
	at := func(p string) string { return filepath.Join(dir, p) }
	file := at("build.yaml")
	if err := os.WriteFile(file, []byte(`# every key but lock and image-name
profile: profile.txt
branch: edge
packages: [app, "extra>=1"]
mirrors:
  - mirror
  - https://m.example/alpine
arch: aarch64
repositories: ["@local repo main", "https://r.example/x"]
allow-untrusted: true
keys-dir: keys
cache-dir: cache
offline: true
no-shrink: true
output: out/img.ext4
files: overlay
size: 64M
no-journal: true
report: out/report.json
authorized-keys: id.pub
hostname: sbx1
strict: true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile, stderr, code := optionsOf(t, elsewhere, "-c", file)
	if code != 0 {
		t.Fatalf("rootfs-synth -c build.yaml = exit %d: %s", code, stderr)
	}
	fromFlags, stderr, code := optionsOf(t, elsewhere, "--profile", at("profile.txt"), "--branch", "edge", "-p", "app", "-p", "extra>=1",
		"--mirror", at("mirror"), "--mirror", "https://m.example/alpine", "--arch", "aarch64",
		"--repository", "@local "+at("repo")+" main", "--repository", "https://r.example/x", "--allow-untrusted",
		"--keys-dir", at("keys"), "--cache-dir", at("cache"), "--offline", "--no-shrink", "-o", at("out/img.ext4"),
		"--files", at("overlay"), "--size", "64M", "--no-journal", "--report", at("out/report.json"),
		"--authorized-keys", at("id.pub"), "--hostname", "sbx1", "--strict")
	if code != 0 {
		t.Fatalf("rootfs-synth with the flags = exit %d: %s", code, stderr)
	}
	if !reflect.DeepEqual(fromFile, fromFlags) {
		t.Errorf("Options from the file:\n%+v\nwant those from the flags:\n%+v", fromFile, fromFlags)
	}
	// The control: a flag replaces its key, and only its key.
	over, stderr, code := optionsOf(t, elsewhere, "-c", file, "--hostname", "sbx2", "-p", "other")
	if code != 0 || over.Hostname != "sbx2" || !reflect.DeepEqual(over.Packages, []string{"base", "other"}) || over.Size != 64<<20 {
		t.Errorf("-c build.yaml --hostname sbx2 -p other = exit %d (%s), hostname %q, packages %q, size %d; want sbx2, [base other], the file's size",
			code, stderr, over.Hostname, over.Packages, over.Size)
	}
	// lock and image-name, the keys that exclude others; --lock given
	// replaces the file's profile and packages.
	if err := os.WriteFile(at("lock.yaml"), []byte("lock: lock.json\nimage-name: x.ext4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
	locked, stderr, code := optionsOf(t, elsewhere, "-c", at("lock.yaml"))
	if code != 0 || locked.Lock == nil || locked.Output != filepath.Join(dir, ".sbx", "images", "x.ext4") {
		t.Errorf("-c lock.yaml = exit %d (%s), lock %v, output %q; want the lock read and ~/.sbx/images/x.ext4", code, stderr, locked.Lock != nil, locked.Output)
	}
	relocked, stderr, code := optionsOf(t, elsewhere, "-c", file, "--lock", at("lock.json"))
	if code != 0 || relocked.Lock == nil || relocked.Profile != "" || relocked.Packages != nil || relocked.Hostname != "sbx1" {
		t.Errorf("-c build.yaml --lock = exit %d (%s), profile %q, packages %q, hostname %q; want the lock instead of the file's profile and packages, the file's hostname",
			code, stderr, relocked.Profile, relocked.Packages, relocked.Hostname)
	}
}

// TestConfigErrors: a build file's unknown key, a value of the wrong kind
// or one its flag refuses, a repeated key, a second document and YAML
// that does not parse are each a usage error in one line naming the
// file's line and the key.
func TestConfigErrors(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dir := configWorld(t)
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CACHE_HOME", dir)
	file := filepath.Join(dir, "build.yaml")
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "hostname: sbx1\nhostnme: sbx2\n", `build.yaml:2: unknown key "hostnme" (did you mean "hostname"?)`},
		{"a flag's name", "repository: [x]\n", `build.yaml:1: unknown key "repository" (did you mean "repositories"?)`},
		{"far from any key", "colour: blue\n", `build.yaml:1: unknown key "colour" (the keys: profile, branch,`},
		{"string for a bool", "strict: true\nno-journal: yes\n", `build.yaml:2: no-journal: want true or false, not "yes"`},
		{"bool for a string", "\nhostname: true\n", `build.yaml:2: hostname: want a string, not true (quote it)`},
		{"list for a bool", "offline: [true]\n", `build.yaml:1: offline: want true or false, not a list`},
		{"no value", "size:\n", `build.yaml:1: size: no value`},
		{"empty list", "packages: []\n", `build.yaml:1: packages: an empty list`},
		{"mapping value", "hostname: {a: b}\n", `build.yaml:1: hostname: want a value, not Mapping`},
		{"repeated key", "size: 1G\nbranch: edge\nsize: 2G\n", `build.yaml:3:1: mapping key "size" already defined at [1:1]`},
		{"second document", "size: 1G\n---\nbranch: edge\n", `build.yaml:3: a second YAML document`},
		{"not a mapping", "- a\n- b\n", `build.yaml:1: want a mapping of keys`},
		{"syntax", "packages: [a, b\nsize: 1G\n", `build.yaml:2:1: ',' or ']' must be specified`},
		{"bad size", "hostname: sbx1\nsize: 12Q\n", `parsing size (` + file + `:2): `},
		{"bad hostname", "output: img.ext4\nhostname: a_b\n", `hostname (` + file + `:2) "a_b": want letters`},
		{"bad arch", "arch: ../x\n", `arch (` + file + `:1) "../x"`},
	} {
		if err := os.WriteFile(file, []byte(tt.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		args := []string{"-c", file, "--offline", "--cache-dir", filepath.Join(dir, "cache")}
		code := run(context.Background(), newApp(time.Unix(1700000000, 0)), args, &stderr)
		if code != 2 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%s: rootfs-synth -c build.yaml = exit %d, stderr %q; want exit 2 and one line containing %q", tt.name, code, stderr.String(), tt.want)
		}
	}
}

// FuzzParseConfig: whatever a build file holds, parseConfig returns (a
// panic of the parser is an error) either entries of known keys with
// values that are not empty, or one error line starting with the file's
// name and a line number.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(starterConfig("build.yaml")))
	f.Add([]byte("packages: [app, \"extra>=1\"]\nfiles: overlay\nstrict: true\nsize: 64M\n"))
	f.Add([]byte("hostname: sbx1\n---\nsize: 1G\n"))
	f.Add([]byte("a: &x {b: c}\n<<: *x\n? [k]\n: v\n"))
	f.Add([]byte("repositories:\n  - |\n    @edge https://e.example/edge\n"))
	isBool := map[string]bool{"strict": true, "offline": true, "no-journal": true, "no-shrink": true, "allow-untrusted": true, "no-deferred-scripts": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseConfig("build.yaml", data, isBool)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "build.yaml:") || msg[len("build.yaml:")] < '1' || msg[len("build.yaml:")] > '9' {
				t.Errorf("parseConfig(%q) = error %q, want one line starting build.yaml:LINE", data, msg)
			}
			return
		}
		for _, e := range entries {
			if _, ok := lookupKey(e.key); !ok || len(e.values) == 0 || slices.Contains(e.values, "") {
				t.Errorf("parseConfig(%q) = entry %+v, want a known key with values", data, e)
			}
		}
	})
}
