package ext4fs_test

import (
	"fmt"
	"maps"
	"os/exec"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
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
			tr := kindsTree(3000, c.huge)
			img := tr.build(t, ext4img.Options{BlockSize: c.bs, MetadataCsum: c.csum, Time: t0})
			if err := ext4check.Fsck(t, img); err != nil {
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
			want, err := ext4check.FromEntries(tr.entries, tr.links)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "ext4fs read-back vs the tree written", want, got)
			fromDebugfs, err := ext4check.ReadImage(t, img)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "ext4fs read-back vs debugfs", fromDebugfs, debugfsACLs(got))
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

// debugfsACLs returns m with POSIX ACL values as debugfs shows them:
// e2fsprogs gives entries without a qualifier (user::, group::, mask::,
// other::) the id 0 where the kernel, and so ext4fs, gives
// ACL_UNDEFINED_ID (0xFFFFFFFF).
func debugfsACLs(m ext4check.Manifest) ext4check.Manifest {
	out := ext4check.Manifest{}
	for p, n := range m {
		c := *n
		for _, name := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
			v, ok := n.Xattrs[name]
			if !ok {
				continue
			}
			b := []byte(v)
			for i := 4; i+8 <= len(b); i += 8 {
				if tag := b[i]; tag != 2 && tag != 8 {
					copy(b[i+4:i+8], []byte{0, 0, 0, 0})
				}
			}
			c.Xattrs = maps.Clone(n.Xattrs)
			c.Xattrs[name] = string(b)
		}
		out[p] = &c
	}
	return out
}
