package provision

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// fixtureWith is newFixture for a repository the test edits after
// building it (edit runs on the index records before they are signed).
func fixtureWith(t testing.TB, pkgs []apktest.Pkg, edit func(recs map[string]*apk.Package), world ...string) *fixture {
	t.Helper()
	repo := apktest.NewRepo(key(t))
	recs := map[string]*apk.Package{}
	for _, p := range pkgs {
		rec, err := repo.Add(p)
		if err != nil {
			t.Fatal(err)
		}
		recs[p.Name] = rec
	}
	if edit != nil {
		edit(recs)
	}
	dir := t.TempDir()
	if err := repo.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	client := &apk.Client{CacheDir: cache, Keys: key(t).KeyRing(), Arch: "x86_64"}
	ctx := context.Background()
	idx, err := client.FetchIndexes(ctx, []apk.Repository{{URLs: []string{repo.URL("file://" + dir)}}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: filepath.Join(cache, "unpacked"), keys: key(t).KeyRing()}
	for _, a := range world {
		d, err := apk.ParseDependency(a)
		if err != nil {
			t.Fatal(err)
		}
		f.world = append(f.world, d)
	}
	if f.pkgs, err = apk.Solve(f.world, idx, apk.SolveOptions{Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	if f.files, err = client.FetchPackages(ctx, f.pkgs); err != nil {
		t.Fatal(err)
	}
	return f
}

// bytesWritten is what this process has passed to write(2) so far
// (/proc/self/io wchar), to measure what an unpack wrote.
func bytesWritten(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("measuring writes needs /proc/self/io: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("/proc/self/io has no wchar")
	return 0
}

// TestUnpackBomb: a package of a trusted repository whose files inflate
// far beyond the installed size its index declares is refused while
// unpacking, having written less than the limit, and leaves nothing in the
// store. Both shapes: one entry whose header alone is over the limit
// (refused before its content is read), and many entries each under it.
func TestUnpackBomb(t *testing.T) {
	const declared = 4096
	limit := installedSizeLimit(declared)
	block := bytes.Repeat([]byte("A"), 1<<20) // compressible, not zero: holes would hide what was written
	var many []apktest.File
	for i := range int(limit>>20) + 8 {
		many = append(many, apktest.File{Name: "usr/share/bomb/" + strconv.Itoa(i), Data: block})
	}
	for _, tc := range []struct {
		name  string
		files []apktest.File
	}{
		{"one big entry", []apktest.File{{Name: "usr/share/bomb/zeros", Data: make([]byte, 64<<20)}}},
		{"many entries", many},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs := append(basePackages(t)[:1:1], apktest.Pkg{Name: "bomb", Version: "1-r0", Files: tc.files})
			f := fixtureWith(t, pkgs, func(recs map[string]*apk.Package) { recs["bomb"].InstalledSize = declared }, "bomb")
			before := bytesWritten(t)
			_, err := Provision(context.Background(), f.options())
			wrote := bytesWritten(t) - before
			if err == nil {
				t.Fatal("Provision of a bomb succeeded")
			}
			for _, w := range []string{"bomb-1-r0", "inflates beyond its declared installed size"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// wchar counts every write of the process: allow for what
			// else wrote meanwhile (a few KiB), far below the bomb's MiBs.
			const others = 256 << 10
			if wrote >= limit+others {
				t.Errorf("the unpack wrote %d bytes, want fewer than the limit %d (and %d of other writes)", wrote, limit, others)
			}
			t.Logf("refused after writing %d bytes (limit %d): %v", wrote, limit, err)
			for _, n := range storeNames(t, f.store) {
				if strings.HasPrefix(n, "/tmp/") || strings.Contains(n, "pkgs-v") {
					t.Errorf("the store holds %s of the refused package", n)
				}
			}
		})
	}
}

// TestInstalledSizeLimit: real packages fit their own I: (abuild's sizes
// are the file sizes, or du -sk block-rounded with directories in older
// indexes), and the margin lets a package of any I: exceed it somewhat.
func TestInstalledSizeLimit(t *testing.T) {
	for _, tc := range []struct{ declared, want int64 }{
		{0, 16 << 20},
		{1, 1 + 16<<20},
		{4096, 4096 + 16<<20},
		{100 << 20, 200 << 20},
		{1 << 62, 1<<63 - 1}, // no overflow
	} {
		if got := installedSizeLimit(tc.declared); got != tc.want {
			t.Errorf("installedSizeLimit(%d) = %d, want %d", tc.declared, got, tc.want)
		}
	}
}
