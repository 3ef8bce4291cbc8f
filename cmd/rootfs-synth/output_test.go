package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
)

// smallImage returns a writer holding a small tree with a 3 MiB file, so
// that the image has data blocks and holes; opened, when not nil, is
// called when the writer opens that file.
func smallImage(t *testing.T, opened func()) *ext4img.Writer {
	t.Helper()
	data := bytes.Repeat([]byte("rootfs-synth\n"), 3<<20/13)
	// No headroom: a small image keeps the xz case fast.
	w := ext4img.NewWriter(ext4img.Options{Time: time.Unix(1700000000, 0), HeadroomBlocks: -1})
	for _, e := range []ext4img.Entry{
		{Path: "etc", Mode: fs.ModeDir | 0o755},
		{Path: "etc/hostname", Mode: 0o644, Size: 5, Content: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("test\n")), nil
		}},
		{Path: "big", Mode: 0o600, Size: int64(len(data)), Content: func() (io.ReadCloser, error) {
			if opened != nil {
				opened()
			}
			return io.NopCloser(bytes.NewReader(data)), nil
		}},
	} {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func quietUI() *ui { return newUI(io.Discard, true, false) }

// dirNames lists dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteImageFile: a plain, a .zst and a .xz target each hold the same
// image (the compressed ones decompress to the plain one, which e2fsck
// accepts), and nothing but the target is left in the directory.
func TestWriteImageFile(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "img.ext4")
	img, err := writeImageFile(context.Background(), smallImage(t, nil), plain, quietUI())
	if err != nil {
		t.Fatal(err)
	}
	if err := e2fsck.Check(t, plain); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if img.Path != plain || img.Size != int64(len(raw)) || img.AllocatedBytes <= 0 || img.AllocatedBytes > img.Size {
		t.Errorf("writeImageFile(%s) = %+v, want size %d and 0 < allocated <= size", plain, img, len(raw))
	}

	decoders := map[string]func(io.Reader) (io.Reader, error){
		".zst": func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) },
		".xz":  func(r io.Reader) (io.Reader, error) { return xz.NewReader(r) },
	}
	for ext, decode := range decoders {
		target := plain + ext
		img, err := writeImageFile(context.Background(), smallImage(t, nil), target, quietUI())
		if err != nil {
			t.Fatalf("writeImageFile(%s): %v", target, err)
		}
		f, err := os.Open(target)
		if err != nil {
			t.Fatal(err)
		}
		r, err := decode(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			t.Fatalf("decompressing %s: %v", target, err)
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%s decompresses to %d bytes unlike the %d-byte plain image", target, len(got), len(raw))
		}
		if img.Size != int64(len(raw)) {
			t.Errorf("writeImageFile(%s).Size = %d, want the raw image's %d", target, img.Size, len(raw))
		}
	}
	if got, want := strings.Join(dirNames(t, dir), " "), "img.ext4 img.ext4.xz img.ext4.zst"; got != want {
		t.Errorf("after the writes the directory holds %q, want %q", got, want)
	}
}

// TestWriteImageFileCanceled: a write canceled midway leaves the old
// target as it was and no temporary file, for plain and compressed
// targets alike.
func TestWriteImageFileCanceled(t *testing.T) {
	for _, name := range []string{"img.ext4", "img.ext4.zst", "img.ext4.xz"} {
		dir := t.TempDir()
		target := filepath.Join(dir, name)
		if err := os.WriteFile(target, []byte("old image"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("interrupted by SIGINT")
		// Cancel midway: when the writer opens the big file's content.
		w := smallImage(t, func() { cancel(cause) })
		u := quietUI()
		_, err := writeImageFile(ctx, w, target, u)
		if !errors.Is(err, cause) {
			t.Errorf("writeImageFile(%s) canceled = %v, want the cancellation cause", name, err)
		}
		if got := strings.Join(dirNames(t, dir), " "); got != name {
			t.Errorf("after a canceled write of %s the directory holds %q, want only the old target", name, got)
		}
		if b, _ := os.ReadFile(target); string(b) != "old image" {
			t.Errorf("a canceled write replaced %s", name)
		}
	}
}

func TestImagePath(t *testing.T) {
	home := filepath.Join("home", "u")
	tests := []struct {
		name, want string
	}{
		{"alpine-agentic.ext4", filepath.Join(home, ".sbx", "images", "alpine-agentic.ext4")},
		{"alpine-heavy.ext4.zst", filepath.Join(home, ".sbx", "images", "alpine-heavy.ext4.zst")},
		{"", ""},
		{".", ""},
		{"..", ""},
		{"a/b.ext4", ""},
		{`C:\images\a.ext4`, ""},
		{`a\b.ext4`, ""},
	}
	for _, tt := range tests {
		got, err := imagePath(home, tt.name)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("imagePath(%q, %q) = %q, %v, want %q", home, tt.name, got, err, tt.want)
		}
	}
}

func TestMirrorPath(t *testing.T) {
	tests := []struct {
		source, want string
	}{
		{"https://dl-cdn.alpinelinux.org/alpine/v3.23/main/x86_64/APKINDEX.tar.gz", "v3.23/main/x86_64"},
		{"http://127.0.0.1:8080/v3.23/community/x86_64/APKINDEX.tar.gz", "v3.23/community/x86_64"},
		{"file:///srv/mirror/edge/testing/x86_64/APKINDEX.tar.gz", "edge/testing/x86_64"},
		{"https://example.com/main/x86_64/APKINDEX.tar.gz", ""},                          // no branch
		{"https://example.com/v3.23/main/aarch64/APKINDEX.tar.gz", ""},                   // another arch
		{"https://example.com/v3.23/main/x86_64/Packages.adb", ""},                       // not a v2 index
		{"https://example.com/x/v3.23/main/x86_64/APKINDEX.tar.gz", "v3.23/main/x86_64"}, // deeper base
		{"https://example.com/../../x86_64/APKINDEX.tar.gz", ""},                         // would climb out of --dest
		{"file:///srv/v3.23/../x86_64/APKINDEX.tar.gz", ""},
		{"https://example.com/v3.23/./x86_64/APKINDEX.tar.gz", ""},
	}
	for _, tt := range tests {
		got, err := mirrorPath(&apk.Index{Source: tt.source}, "x86_64")
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("mirrorPath(%q) = %q, %v, want %q", tt.source, got, err, tt.want)
		}
	}
}

func TestPackageAtoms(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"git"}, "git"},
		{[]string{"git curl", "python3,py3-pip", " vim ,, "}, "git|curl|python3|py3-pip|vim"},
		{[]string{"musl>=1.2", "foo@edge"}, "musl>=1.2|foo@edge"},
	}
	for _, tt := range tests {
		if got := strings.Join(packageAtoms(tt.in), "|"); got != tt.want {
			t.Errorf("packageAtoms(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {64 << 20, "64.0 MiB"}, {3 << 30, "3.0 GiB"},
	}
	for _, tt := range tests {
		if got := sizeString(tt.in); got != tt.want {
			t.Errorf("sizeString(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"fetching x: refused", "fetching x: refused"},
		{"index of main: refused\nindex of community: refused", "index of main: refused; index of community: refused"},
		{"unable to select packages:\n  a-1-r0:\n    breaks: world[a><Q1AA]\n", "unable to select packages: a-1-r0: breaks: world[a><Q1AA]"},
	}
	for _, tt := range tests {
		if got := oneLine(errors.New(tt.in)).Error(); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckHostname(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"", true}, {"sandbox", true}, {"sbx-01.example.com", true}, {"a", true},
		{"-sandbox", false}, {"sandbox-", false}, {"a..b", false}, {"sand box", false},
		{"a/b", false}, {"host\nname", false}, {strings.Repeat("a", 64), false},
	}
	for _, tt := range tests {
		if err := checkHostname(tt.in); (err == nil) != tt.ok {
			t.Errorf("checkHostname(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}

func TestCompressionOf(t *testing.T) {
	for name, want := range map[string]compression{
		"a.ext4": noCompression, "a.ext4.zst": zstdCompression, "A.EXT4.ZST": zstdCompression,
		"a.xz": xzCompression, "a.Xz": xzCompression, "zst": noCompression,
	} {
		if got := compressionOf(name); got != want {
			t.Errorf("compressionOf(%q) = %v, want %v", name, got, want)
		}
	}
}
