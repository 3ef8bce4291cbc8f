package build

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/provision"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// notImageBytes are the Options fields that do not change the image's
// bytes, so a lock need not record them, and why.
var notImageBytes = map[string]string{
	"Lock":           "pins the packages: it is the record",
	"AllowUntrusted": "accepts more indexes; the packages are pinned by checksum all the same",
	"CacheDir":       "where downloads are kept",
	"Offline":        "whether the network is used",
	"HTTP":           "how the network is used",
	"Output":         "where the image goes (a .zst or .xz name compresses the same filesystem)",
	"Report":         "where the report goes",
	"Owner":          "who owns the files written, not what they hold",
	"Strict":         "whether the build fails, never what it writes",
	"Progress":       "what a person sees",
	"Logger":         "what a person sees",
	"SBOM":           "where the SBOM goes",
	"Mirrors": "which mirror serves the packages, pinned by checksum: the guest's repositories and the image's report " +
		"name Alpine's repositories by the official mirror, whichever served them",
	"Repositories": "where packages come from, pinned by checksum; a repository the world pins by tag is recorded " +
		"through the guest's repositories it makes",
}

// TestEveryOptionLocked guards the lock against new Options: every field
// of Options is either listed in notImageBytes or has a sample here that
// changes what the report records of the build (its inputs, arch, world,
// guest repositories, SOURCE_DATE_EPOCH). A field added to Options
// without either fails here, naming it.
func TestEveryOptionLocked(t *testing.T) {
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]func(*Options){
		"Profile":           func(o *Options) { o.Profile = "minimal" },
		"Packages":          func(o *Options) { o.Packages = append(o.Packages, "app") },
		"Branch":            func(o *Options) { o.Branch = "edge" },
		"Arch":              func(o *Options) { o.Arch = "aarch64" },
		"Keys":              func(o *Options) { o.Keys = key.KeyRing() },
		"Size":              func(o *Options) { o.Size = 64 << 20 },
		"NoShrink":          func(o *Options) { o.NoShrink = true },
		"NoJournal":         func(o *Options) { o.NoJournal = true },
		"NoDeferredScripts": func(o *Options) { o.NoDeferredScripts = true },
		"Files":             func(o *Options) { o.Files = []fs.FS{fstest.MapFS{"etc/motd": {Data: []byte("hi\n")}}} },
		"AuthorizedKeys":    func(o *Options) { o.AuthorizedKeys = []byte("ssh-ed25519 AAAAC3Nza test\n") },
		"Hostname":          func(o *Options) { o.Hostname = "sbx1" },
		"Time":              func(o *Options) { o.Time = time.Unix(1700000000, 0) },
		"GuestRepositories": func(o *Options) {
			o.GuestRepositories = []string{"https://guest.example/alpine/v3.23/main"}
		},
	}
	dir := t.TempDir()
	record := func(o Options) string {
		t.Helper()
		b, err := newBuilder(o)
		if err != nil {
			t.Fatalf("newBuilder: %v", err)
		}
		if err := b.recordOverlays(time.Unix(1750000000, 0)); err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(b.newReport(&provision.Result{}, nil))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	base := func() Options {
		return Options{Profile: "none", Packages: []string{"base"}, Arch: "x86_64", Mirrors: []string{"https://a.example/alpine"},
			CacheDir: filepath.Join(dir, "cache"), Output: filepath.Join(dir, "img.ext4")}
	}
	want := record(base())
	typ := reflect.TypeFor[Options]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if _, ok := notImageBytes[name]; ok {
			if _, ok := samples[name]; ok {
				t.Errorf("Options.%s is both recorded and listed as not changing the image's bytes", name)
			}
			continue
		}
		sample, ok := samples[name]
		if !ok {
			t.Errorf("Options.%s is neither recorded in the lock's inputs (Inputs, with a sample here) nor listed in notImageBytes", name)
			continue
		}
		o := base()
		sample(&o)
		if got := record(o); got == want {
			t.Errorf("Options.%s changed: the report's record %s did not", name, got)
		}
	}
}

// TestFromLock: a lock with inputs supplies the Options left out and
// refuses those that contradict it, naming the field; a lock without
// inputs (an older report) changes nothing.
func TestFromLock(t *testing.T) {
	locked := &Report{SourceDateEpoch: 1700000000, Inputs: &Inputs{
		Branch: "v3.23", Hostname: "sbx1", Size: 64 << 20, NoJournal: true,
		AuthorizedKeys: sha256Digest([]byte("key\n")),
		Files:          []string{"sha256:00"},
	}}
	ok := Options{Lock: locked, AuthorizedKeys: []byte("key\n"), Files: []fs.FS{fstest.MapFS{}}}
	got, err := fromLock(ok)
	if err != nil || got.Hostname != "sbx1" || got.Size != 64<<20 || !got.NoJournal || got.NoShrink {
		t.Errorf("fromLock(nothing given) = %+v, %v; want the lock's hostname, size and no journal", got, err)
	}
	for _, tt := range []struct {
		name  string
		edit  func(*Options)
		want  string // "" is no error
		usage bool
	}{
		{"same values given", func(o *Options) { o.Hostname, o.Size, o.NoJournal, o.Branch = "sbx1", 64<<20, true, "v3.23" }, "", false},
		{"hostname", func(o *Options) { o.Hostname = "sbx2" }, `Options.Hostname "sbx2" differs from the lock's "sbx1"`, true},
		{"size", func(o *Options) { o.Size = 1 << 30 }, "Options.Size 1073741824 differs from the lock's 67108864", true},
		{"no shrink", func(o *Options) { o.NoShrink = true }, "Options.NoShrink true differs from the lock's false", true},
		{"branch", func(o *Options) { o.Branch = "edge" }, `Options.Branch "edge" differs`, true},
		{"time", func(o *Options) { o.Time = time.Unix(1, 0) }, "Options.Time 1 differs from the lock's 1700000000", true},
		{"authorized keys changed", func(o *Options) { o.AuthorizedKeys = []byte("other\n") }, "Options.AuthorizedKeys differ from the lock's (sha256:", false},
		{"authorized keys left out", func(o *Options) { o.AuthorizedKeys = nil }, "the lock's Options.AuthorizedKeys (sha256:", true},
		{"overlay left out", func(o *Options) { o.Files = nil }, "0 overlays are given (Options.Files), the lock has 1", true},
		{"old lock", func(o *Options) { o.Lock = &Report{}; o.Hostname = "sbx2" }, "", false},
	} {
		o := ok
		tt.edit(&o)
		_, err := fromLock(o)
		var oe *OptionError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("fromLock(%s) = %v, want no error", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &oe) || oe.Option != "Lock" || errors.Is(err, ErrUsage) != tt.usage):
			t.Errorf("fromLock(%s) = %v, want an error of Lock saying %q (a usage error: %v)", tt.name, err, tt.want, tt.usage)
		}
	}
}

// TestTreeDigest: an overlay's digest changes with everything provision
// takes from it — content, mode, a link's target, a path, an owner, an
// mtime older than the filesystem time — and not with an mtime after it,
// which provision caps (the negative control).
func TestTreeDigest(t *testing.T) {
	fsTime := time.Unix(1700000000, 0)
	old := fsTime.Add(-time.Hour)
	base := func() fstest.MapFS {
		return fstest.MapFS{
			"etc/motd": {Data: []byte("hi\n"), Mode: 0o644, ModTime: fsTime.Add(time.Hour)},
			"etc/link": {Data: []byte("motd"), Mode: fs.ModeSymlink | 0o777},
		}
	}
	want, err := treeDigest(base(), fsTime)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		edit    func(fstest.MapFS)
		changes bool
	}{
		{"content", func(m fstest.MapFS) { m["etc/motd"].Data = []byte("ho\n") }, true},
		{"mode", func(m fstest.MapFS) { m["etc/motd"].Mode = 0o600 }, true},
		{"link target", func(m fstest.MapFS) { m["etc/link"].Data = []byte("hostname") }, true},
		{"path", func(m fstest.MapFS) { m["etc/motd2"] = m["etc/motd"]; delete(m, "etc/motd") }, true},
		{"owner", func(m fstest.MapFS) { m["etc/motd"].Sys = &rootfs.Node{UID: 1000} }, true},
		{"mtime before the filesystem time", func(m fstest.MapFS) { m["etc/motd"].ModTime = old }, true},
		{"mtime after the filesystem time", func(m fstest.MapFS) { m["etc/motd"].ModTime = fsTime.Add(2 * time.Hour) }, false},
	} {
		m := base()
		tt.edit(m)
		got, err := treeDigest(m, fsTime)
		if err != nil {
			t.Fatal(err)
		}
		if (got != want) != tt.changes {
			t.Errorf("treeDigest(%s changed) = %s, base %s; want changed %v", tt.name, got, want, tt.changes)
		}
	}
}
