//go:build linux

package ext4img_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// alpineLikeTree is about the size of an Alpine minirootfs: ~600 entries,
// 8 MB, many symlinks to one binary.
func alpineLikeTree() *tree {
	tr := &tree{}
	t0 := time.Unix(1700000000, 0)
	tr.Add(ext4img.Entry{Path: "", Mode: fs.ModeDir | 0o755, ModTime: t0})
	for _, d := range []string{"bin", "etc", "lib", "sbin", "usr", "usr/bin", "usr/lib", "usr/share", "var", "var/cache"} {
		tr.Add(ext4img.Entry{Path: d, Mode: fs.ModeDir | 0o755, ModTime: t0})
	}
	tr.Add(ext4img.Entry{Path: "bin/busybox", Mode: 0o755, ModTime: t0, Size: 800 << 10, Content: ext4tree.PatternContent(1, 800<<10)})
	for i := range 300 {
		tr.Add(ext4img.Entry{Path: fmt.Sprintf("usr/bin/applet%03d", i), Mode: fs.ModeSymlink | 0o777, ModTime: t0, Linkname: "/bin/busybox"})
	}
	for i := range 250 {
		size := int64(i * i * 13 % 60000)
		tr.Add(ext4img.Entry{Path: fmt.Sprintf("usr/lib/lib%03d.so", i), Mode: 0o644, ModTime: t0, Size: size, Content: ext4tree.PatternContent(uint64(i), size)})
	}
	tr.Add(ext4img.Entry{Path: "lib/ld-musl-x86_64.so.1", Mode: 0o755, ModTime: t0, Size: 600 << 10, Content: ext4tree.PatternContent(2, 600<<10)})
	return tr
}

// dumpe2fsField returns a numeric field of `dumpe2fs -h`.
func dumpe2fsField(t *testing.T, img, field string) int64 {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "dumpe2fs"), "-h", img).Output()
	if err != nil {
		t.Fatalf("dumpe2fs -h %s: %v", img, err)
	}
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("dumpe2fs %s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("dumpe2fs -h %s has no %q", img, field)
	return 0
}

func resize2fs(t *testing.T, args ...string) string {
	t.Helper()
	c := exec.Command(testenv.Tool(t, "resize2fs"), args...)
	c.Env = append(os.Environ(), "LC_ALL=C")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("resize2fs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAcceptResize: a default image grows to four times its size with
// resize2fs, and resize2fs cannot shrink it by more than its documented
// headroom (ext4img.DefaultHeadroomBytes of free blocks), i.e. the writer
// wastes no space beyond the headroom it promises.
func TestAcceptResize(t *testing.T) {
	for _, bs := range []int{4096, 1024} {
		t.Run(fmt.Sprintf("bs=%d", bs), func(t *testing.T) {
			tr := alpineLikeTree()
			img, layout := tr.build(t, ext4img.Options{BlockSize: bs}, "")
			// The headroom is what a guest sees available; the kernel
			// keeps back min(2 %, 4096) blocks on top of it.
			headroom := int64(ext4img.DefaultHeadroomBytes/bs) + min(layout.Blocks/50, 4096)
			if layout.FreeBlocks < headroom || int64(layout.FreeInodes) < ext4img.DefaultHeadroomInodes {
				t.Errorf("Layout: %d free blocks, %d free inodes; want at least %d and %d",
					layout.FreeBlocks, layout.FreeInodes, headroom, ext4img.DefaultHeadroomInodes)
			}
			if n := dumpe2fsField(t, img, "Free blocks"); n != layout.FreeBlocks {
				t.Errorf("dumpe2fs: %d free blocks, Layout says %d", n, layout.FreeBlocks)
			}

			out := resize2fs(t, "-P", img)
			_, minStr, _ := strings.Cut(out, "Estimated minimum size of the filesystem: ")
			minBlocks, err := strconv.ParseInt(strings.TrimSpace(minStr), 10, 64)
			if err != nil {
				t.Fatalf("resize2fs -P: %q", out)
			}
			t.Logf("%d blocks, %d free; resize2fs -P minimum %d", layout.Blocks, layout.FreeBlocks, minBlocks)
			if shrink := layout.Blocks - minBlocks; shrink > headroom {
				t.Errorf("resize2fs -P: minimum %d blocks, %d below the image's %d; want at most the headroom %d",
					minBlocks, shrink, layout.Blocks, headroom)
			}

			shrunk := filepath.Join(t.TempDir(), "shrunk.img")
			testenv.CopyFile(t, shrunk, img)
			resize2fs(t, "-M", shrunk)
			if n := dumpe2fsField(t, shrunk, "Block count"); layout.Blocks-n > headroom {
				t.Errorf("resize2fs -M shrank %d blocks to %d, more than the headroom %d", layout.Blocks, n, headroom)
			}
			tr.check(t, shrunk, "after resize2fs -M: ")

			grown := layout.Blocks * 4
			resize2fs(t, img, strconv.FormatInt(grown, 10))
			if n := dumpe2fsField(t, img, "Block count"); n != grown {
				t.Errorf("after resize2fs to %d blocks: block count %d", grown, n)
			}
			tr.check(t, img, "after resize2fs to 4x: ")
		})
	}
}

// TestAcceptBadInput: each bad entry is refused with an error naming its
// path, and a build that fails while writing leaves no file behind.
func TestAcceptBadInput(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	long := strings.Repeat("n", 256)
	tests := []struct {
		name    string
		entries []ext4img.Entry
		link    *ext4check.Link
		want    string // in the error
	}{
		{"name over 255 bytes", []ext4img.Entry{{Path: "d/" + long, ModTime: t0}}, nil, long},
		{"UTF-8 name over 255 bytes", []ext4img.Entry{{Path: strings.Repeat("名", 86), ModTime: t0}}, nil, strings.Repeat("名", 86)},
		{"symlink target over 4095 bytes", []ext4img.Entry{{Path: "d/l", Mode: fs.ModeSymlink | 0o777, Linkname: strings.Repeat("x", 4096)}}, nil, "d/l"},
		{"empty symlink target", []ext4img.Entry{{Path: "d/l", Mode: fs.ModeSymlink | 0o777}}, nil, "d/l"},
		{"path below a file", []ext4img.Entry{{Path: "f/x"}}, nil, "f/x"},
		{"path below a symlink", []ext4img.Entry{{Path: "sl", Mode: fs.ModeSymlink | 0o777, Linkname: "d"}, {Path: "sl/x"}}, nil, "sl/x"},
		{"missing parent", []ext4img.Entry{{Path: "nope/x"}}, nil, "nope/x"},
		{"duplicate file", []ext4img.Entry{{Path: "f"}}, nil, `"f"`},
		{"duplicate directory", []ext4img.Entry{{Path: "d", Mode: fs.ModeDir | 0o755}}, nil, `"d"`},
		{"size without content", []ext4img.Entry{{Path: "d/s", Size: 5}}, nil, "d/s"},
		{"device number too big", []ext4img.Entry{{Path: "d/dev", Mode: fs.ModeDevice, Devmajor: 4096}}, nil, "d/dev"},
		{"link to a directory", nil, &ext4check.Link{Path: "d/h", Target: "d"}, "d/h"},
		{"link to nothing", nil, &ext4check.Link{Path: "d/h", Target: "none"}, "d/h"},
		{"link over a name", nil, &ext4check.Link{Path: "f", Target: "d/g"}, `"f"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := ext4img.NewWriter(ext4img.Options{})
			for _, e := range []ext4img.Entry{
				{Path: "d", Mode: fs.ModeDir | 0o755}, {Path: "f", Mode: 0o644}, {Path: "d/g", Mode: 0o644},
			} {
				if err := w.Add(e); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			for _, e := range tt.entries {
				if err = w.Add(e); err != nil {
					break
				}
			}
			if tt.link != nil {
				err = w.Link(tt.link.Target, tt.link.Path)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.want)
			}
		})
	}
}

// failingReader returns n bytes of data, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(b []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(b), r.n)
	for i := range b[:k] {
		b[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// TestAcceptFailedWriteLeavesNothing: content that is short, long, fails
// to open or fails while read makes WriteFile fail naming the file, with
// no image and no temporary file left, and an existing image untouched.
func TestAcceptFailedWriteLeavesNothing(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		size    int64
		content func() (io.ReadCloser, error)
	}{
		{"short content", 10000, func() (io.ReadCloser, error) { return io.NopCloser(&failingReader{5000, io.EOF}), nil }},
		{"long content", 10, func() (io.ReadCloser, error) { return io.NopCloser(&failingReader{11, io.EOF}), nil }},
		{"open fails", 10, func() (io.ReadCloser, error) { return nil, boom }},
		{"read fails", 100000, func() (io.ReadCloser, error) { return io.NopCloser(&failingReader{70000, boom}), nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, existing := range []bool{false, true} {
				dir := t.TempDir()
				out := filepath.Join(dir, "fs.img")
				if existing {
					if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				tr := alpineLikeTree()
				tr.Add(ext4img.Entry{Path: "usr/share/bad", Mode: 0o644, Size: tt.size, Content: tt.content})
				err := tr.writer(t, ext4img.Options{}, "").WriteFile(out, 0o644)
				if err == nil || !strings.Contains(err.Error(), "usr/share/bad") {
					t.Errorf("WriteFile with %s = %v, want an error naming usr/share/bad", tt.name, err)
				}
				left, _ := os.ReadDir(dir)
				switch {
				case existing && (len(left) != 1 || !sameContent(out, "old")):
					t.Errorf("WriteFile with %s over an existing image left %v, want the old file alone", tt.name, left)
				case !existing && len(left) != 0:
					t.Errorf("WriteFile with %s left %v, want nothing", tt.name, left)
				}
			}
		})
	}
}

func sameContent(p, want string) bool {
	b, err := os.ReadFile(p)
	return err == nil && string(b) == want
}
