package ext4fs_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// mke2fsFragmented makes an image with e2fsprogs alone, in dir: mke2fs -d
// of 900 one-block files, debugfs removes every other one, then writes a
// 700 KB file into the holes, so its extent tree has depth 2 (about 400
// one-block extents under 5 index blocks). With csum the image has
// mke2fs's ext4 defaults (metadata_csum, 64bit, a journal, resize_inode);
// without, neither metadata_csum nor 64bit.
func mke2fsFragmented(t testing.TB, dir string, csum bool) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 900 {
		if err := os.WriteFile(filepath.Join(src, "d", fmt.Sprintf("f%03d", i)), bytes.Repeat([]byte{byte('a' + i%26)}, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("d/f001", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "img")
	features := "metadata_csum,64bit"
	if !csum {
		features = "^metadata_csum,^64bit"
	}
	run := func(name string, args ...string) {
		cmd := exec.Command(testenv.Tool(t, name), args...)
		cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	uuid := "11111111-2222-3333-4444-555555555555"
	run("mke2fs", "-q", "-F", "-t", "ext4", "-b", "1024", "-O", features, "-U", uuid, "-E", "hash_seed="+uuid, "-d", src, img, "8M")
	var rm strings.Builder
	for i := 1; i < 900; i += 2 {
		fmt.Fprintf(&rm, "rm /d/f%03d\n", i)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, randomish(700000), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&rm, "write %s big\n", big)
	cmds := filepath.Join(dir, "cmds")
	if err := os.WriteFile(cmds, []byte(rm.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run("debugfs", "-w", "-f", cmds, img)
	return img
}

func randomish(n int) []byte {
	b, _ := io.ReadAll(ext4tree.Pattern(99, int64(n))) // a pattern never fails
	return b
}

// TestReadMke2fsImage: an image e2fsprogs made (so no assumption shared
// with ext4img) reads the same with ext4fs as with debugfs, including a
// file whose extent tree has depth 2, with and without metadata_csum and
// 64bit group descriptors.
func TestReadMke2fsImage(t *testing.T) {
	for _, csum := range []bool{false, true} {
		t.Run(fmt.Sprintf("csum=%v", csum), func(t *testing.T) {
			img := mke2fsFragmented(t, t.TempDir(), csum)
			// Only -n: e2fsck -fy would still narrow debugfs's extent tree.
			if out, err := exec.Command(testenv.Tool(t, "e2fsck"), "-fn", img).CombinedOutput(); err != nil {
				t.Fatalf("e2fsck -fn %s: %v\n%s", img, err, out)
			}
			if out := debugfs(t, img, "ex /big"); !strings.Contains(out, " 2/ 2 ") {
				t.Fatalf("debugfs ex /big: want depth 2, got:\n%s", out)
			}
			got, err := readManifest(openImage(t, img))
			if err != nil {
				t.Fatalf("reading the image with ext4fs: %v", err)
			}
			want, err := ext4check.ReadImage(t, img)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < 450 {
				t.Fatalf("debugfs sees %d paths, want over 450", len(want))
			}
			compare(t, "ext4fs read-back vs debugfs", want, got)
		})
	}
}
