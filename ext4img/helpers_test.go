package ext4img

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// bytesContent returns an Entry.Content serving b.
func bytesContent(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// writeImage writes w to a new file in a temporary directory.
func writeImage(t testing.TB, w *Writer) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "img")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	return img
}

// fsck fails the test unless e2fsck finds img clean and e2fsck -fy on a
// copy changes nothing (e2fsck.Check).
func fsck(t testing.TB, img string) {
	t.Helper()
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
}

// debugfs runs one debugfs request on img and returns its output.
func debugfs(t testing.TB, img, req string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", req, img).Output()
	if err != nil {
		t.Fatalf("debugfs -R %q: %v", req, err)
	}
	return string(out)
}

// mustContain fails unless out contains every one of wants.
func mustContain(t testing.TB, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed)})
	b := make([]byte, n)
	r.Read(b)
	return b
}
