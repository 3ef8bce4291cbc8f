package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// TestPathComponentFlags: --arch and --branch become directories (of the
// cache, of a mirror, of fetch --dest), so a value that is not one plain
// name is a usage error naming the flag, and nothing is written outside
// the cache — even against a mirror that serves its index under any path.
func TestPathComponentFlags(t *testing.T) {
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	repo := apktest.NewRepo(key)
	if _, err := repo.Add(apktest.Pkg{Name: "app", Version: "1-r0"}); err != nil {
		t.Fatal(err)
	}
	archive, err := repo.IndexArchive()
	if err != nil {
		t.Fatal(err)
	}
	h := repo.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/APKINDEX.tar.gz") {
			w.Write(archive)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	keys := t.TempDir()
	if err := os.WriteFile(filepath.Join(keys, key.Name), key.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	run1 := func(args ...string) (string, int, string) {
		t.Helper()
		root := t.TempDir()
		cache := filepath.Join(root, "a", "b", "cache")
		t.Setenv("HOME", root)
		args = append([]string{"--keys-dir", keys, "--cache-dir", cache, "--mirror", srv.URL, "--profile", "none", "-p", "app",
			"-o", filepath.Join(root, "out", "img.ext4")}, args...)
		var stderr bytes.Buffer
		code := run(context.Background(), newApp(time.Unix(1700000000, 0)), args, &stderr)
		var outside []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasPrefix(p, cache+string(filepath.Separator)) && !strings.HasPrefix(p, filepath.Join(root, "out")) {
				outside = append(outside, p)
			}
			return nil
		})
		return stderr.String(), code, strings.Join(outside, " ")
	}
	for _, tt := range []struct{ flag, value string }{
		{"--arch", "../../../x"}, {"--arch", ".."}, {"--arch", "a/b"}, {"--arch", "x 86"},
		{"--branch", ".."}, {"--branch", "."}, {"--branch", "../../x"}, {"--branch", "v3.23\n"},
	} {
		stderr, code, outside := run1(tt.flag, tt.value)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.flag+" "+strconv.Quote(tt.value)) {
			t.Errorf("rootfs-synth %s %q = exit %d, stderr %q; want exit 2 and one line naming %s %q", tt.flag, tt.value, code, stderr, tt.flag, tt.value)
		}
		if outside != "" {
			t.Errorf("rootfs-synth %s %q wrote outside the cache: %s", tt.flag, tt.value, outside)
		}
	}
	// The control: with a plain arch and branch the same mirror builds,
	// writing only into the cache and the output directory.
	if stderr, code, outside := run1("--arch", "x86_64", "--branch", "v3.23", "-q"); code != 0 || outside != "" {
		t.Errorf("rootfs-synth --arch x86_64 = exit %d, wrote %q outside the cache; want exit 0, nothing outside\nstderr: %s", code, outside, stderr)
	}
}
