//go:build linux

package ext4patch

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// sandboxPatch is what a sandbox gets: keys, hostname, session env.
func sandboxPatch(im *Image, md *model) error {
	mt := time.Date(2025, 5, 4, 3, 2, 1, 500, time.UTC)
	for _, f := range []struct {
		path string
		data string
		perm uint32
	}{
		{"/root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey user@host\n", 0o600},
		{"/etc/hostname", "sandbox-1\n", 0o644},
		{"/etc/sbx/session-env.sh", "export FOO='bar'\n", 0o644},
	} {
		if err := im.Put(f.path, strings.NewReader(f.data), fsPerm(f.perm), 0, 0, mt); err != nil {
			return err
		}
		if md != nil {
			md.put(f.path, []byte(f.data), fsPerm(f.perm), 0, 0, mt)
		}
	}
	return nil
}

// judge returns the tree of img as debugfs reads it, after e2fsck found
// it clean.
func judge(t *testing.T, img string, k imageKind) ext4check.Manifest {
	t.Helper()
	if err := fsck(t, img, k); err != nil {
		t.Fatal(err)
	}
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// checkImage judges img: e2fsck clean, and debugfs reads back want.
func checkImage(t *testing.T, img string, want ext4check.Manifest, k imageKind) {
	t.Helper()
	if diffs := ext4check.Compare(want, judge(t, img, k), ext4check.Options{NoRootAttrs: k.mke2fs}); len(diffs) > 0 {
		t.Fatalf("%s: image differs from the model:\n%s", img, strings.Join(diffs, "\n"))
	}
}

func TestSandboxPatch(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			img, im, md := openWithModel(t, k)
			if err := sandboxPatch(im, md); err != nil {
				t.Fatal(err)
			}
			if err := im.Commit(); err != nil {
				t.Fatal(err)
			}
			checkImage(t, img, md.manifest(), k)
		})
	}
}

// fsck judges img with e2fsck: e2fsck.Check (-fn clean, -fy on a copy
// changes nothing) for ext4img's images; -fn clean for mke2fs's, whose
// unindexed directories of three blocks and more -fy would index even
// before any patch.
func fsck(t testing.TB, img string, k imageKind) error {
	if !k.mke2fs {
		return e2fsck.Check(t, img)
	}
	c := exec.Command(testenv.Tool(t, "e2fsck"), "-fn", img)
	c.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("e2fsck -fn %s: %v\n%s", img, err, out)
	}
	return nil
}
