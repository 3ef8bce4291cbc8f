package ext4img

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// memFile is an in-memory io.WriteSeeker; unwritten ranges read as zero.
type memFile struct {
	b   []byte
	off int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := m.off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	copy(m.b[m.off:], p)
	m.off += int64(len(p))
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += m.off
	case io.SeekEnd:
		off += int64(len(m.b))
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	m.off = off
	return off, nil
}

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

// fsck runs e2fsck -fn on img (must exit 0), then e2fsck -fy on a copy,
// which must exit 0 and leave every byte as it was apart from the
// superblock's last-write and last-check times.
func fsck(t testing.TB, img string) {
	t.Helper()
	e2fsck := testenv.Tool(t, "e2fsck")
	if out, err := exec.Command(e2fsck, "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn %s: %v\n%s", img, err, out)
	}
	cp := img + ".fy"
	if out, err := exec.Command("cp", "--sparse=always", img, cp).CombinedOutput(); err != nil {
		t.Fatalf("copying image: %v\n%s", err, out)
	}
	defer os.Remove(cp)
	if out, err := exec.Command(e2fsck, "-fy", cp).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fy (copy of) %s: %v\n%s", img, err, out)
	}
	if diff := imageDiff(t, img, cp); diff != "" {
		t.Fatalf("e2fsck -fy changed the image: %s", diff)
	}
}

// imageDiff compares two images, ignoring s_wtime and s_lastcheck (and
// their _hi bytes) in the primary superblock, and so its s_checksum.
func imageDiff(t testing.TB, a, b string) string {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	const chunk = 1 << 20
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	sa, err := fa.Stat()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := fb.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if sa.Size() != sb.Size() {
		return "sizes differ"
	}
	for off := int64(0); off < sa.Size(); off += chunk {
		// Skip chunks that are holes in both (sparse images are large).
		da, db := nextData(fa, off), nextData(fb, off)
		if (da < 0 || da >= off+chunk) && (db < 0 || db >= off+chunk) {
			continue
		}
		na, _ := fa.ReadAt(ba, off)
		nb, _ := fb.ReadAt(bb, off)
		if na != nb {
			return "short read"
		}
		if off == 0 {
			for _, r := range [][2]int{{1024 + 0x30, 4}, {1024 + 0x40, 4}, {1024 + 0x274, 3}, {1024 + 0x3FC, 4}} {
				clear(ba[r[0] : r[0]+r[1]])
				clear(bb[r[0] : r[0]+r[1]])
			}
		}
		if !bytes.Equal(ba[:na], bb[:nb]) {
			for i := range na {
				if ba[i] != bb[i] {
					return "first difference at byte " + itoa(off+int64(i))
				}
			}
		}
	}
	return ""
}

func itoa(v int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
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
