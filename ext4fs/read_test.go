package ext4fs_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4tree"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestReadAgreesWithDebugfs: for every block size and checksum setting,
// the tree ext4fs reads from an ext4img image equals both the tree written
// and what debugfs reads back, field by field and byte for byte. The
// image has a 3,000-entry htree directory and a file whose extent tree
// has depth 1 (checked with debugfs, so the case cannot silently vanish).
func TestReadAgreesWithDebugfs(t *testing.T) {
	for _, c := range []struct {
		bs   int
		csum bool
		huge int64 // > 4 extents: 1 KiB groups are 8 MiB, backups split at 8, 24, 40, 56 MiB
	}{
		{1024, false, 60 << 20},
		{1024, true, 60 << 20},
		{4096, false, 5 << 20},
		{4096, true, 5 << 20},
	} {
		t.Run(fmt.Sprintf("bs=%d,csum=%v", c.bs, c.csum), func(t *testing.T) {
			tr := ext4tree.EveryKind(ext4tree.Options{BigDir: 3000, BigDirContent: true, HugeSize: c.huge, BlockSize: c.bs})
			img := buildImage(t, tr, ext4img.Options{BlockSize: c.bs, MetadataCsum: c.csum, Time: ext4tree.ModTime})
			if err := e2fsck.Check(t, img); err != nil {
				t.Fatal(err)
			}
			if c.bs == 1024 {
				out := debugfs(t, img, "ex /huge")
				if !strings.Contains(out, " 1/ 1 ") {
					t.Fatalf("debugfs ex /huge: want an extent tree of depth 1, got:\n%s", out)
				}
			}
			if out := debugfs(t, img, "htree /many"); !strings.Contains(out, "Root node dump") {
				t.Fatalf("debugfs htree /many: not a hash tree:\n%s", out)
			}
			got, err := readManifest(openImage(t, img))
			if err != nil {
				t.Fatalf("reading the image with ext4fs: %v", err)
			}
			want, err := ext4check.FromEntries(tr.Entries, tr.Links)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "ext4fs read-back vs the tree written", want, got)
			fromDebugfs, err := ext4check.ReadImage(t, img)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "ext4fs read-back vs debugfs", fromDebugfs, ext4tree.DebugfsACLs(got))
		})
	}
}

// debugfs runs one debugfs request on img.
func debugfs(t testing.TB, img, req string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", req, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs -R %q: %v\n%s", req, err, out)
	}
	return string(out)
}
