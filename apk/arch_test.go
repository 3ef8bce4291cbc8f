package apk_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// TestClientArchIsAPathComponent: the arch becomes a directory of the
// cache (and of the mirror's URLs), so an arch that is not one plain name
// ("../../../x", "a/b", "..") is refused before anything is written, even
// by a mirror that serves its index under any path. The control: the
// same mirror and cache with a plain arch fetch the index into the cache.
func TestClientArchIsAPathComponent(t *testing.T) {
	repo := newTestRepo(t)
	archive, err := repo.IndexArchive()
	if err != nil {
		t.Fatal(err)
	}
	// A mirror that answers every index request, wherever it points.
	srv := serve(t, repo, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if strings.HasSuffix(r.URL.Path, "/APKINDEX.tar.gz") {
			w.Write(archive)
			return true
		}
		return false
	})
	base := strings.TrimSuffix(repo.URL(srv.URL), "/")
	for _, arch := range []string{"../../../x", "../x", "a/b", "..", ".", `a\b`, "x86_64\n", "x 86"} {
		root := t.TempDir()
		c := testClient(t, repo)
		c.CacheDir = filepath.Join(root, "a", "b", "cache")
		c.Arch = arch
		if _, err := c.FetchIndex(context.Background(), repoOf(base)); err == nil || !strings.Contains(err.Error(), "arch") {
			t.Errorf("FetchIndex with arch %q = %v, want an error naming the arch", arch, err)
		}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("FetchIndex with arch %q wrote %s", arch, p)
			}
			return nil
		})
	}
	if err := apk.CheckArch("x86_64"); err != nil {
		t.Errorf("CheckArch(x86_64) = %v", err)
	}
	root := t.TempDir()
	c := testClient(t, repo)
	c.CacheDir = filepath.Join(root, "cache")
	if _, err := c.FetchIndex(context.Background(), repoOf(base)); err != nil {
		t.Fatalf("FetchIndex with arch x86_64: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "cache", "indexes", "*", "x86_64", "APKINDEX.tar.gz")); len(m) != 1 {
		t.Errorf("FetchIndex with arch x86_64 cached %q, want one index under the cache", m)
	}
}
