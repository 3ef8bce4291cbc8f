//go:build linux

package ext4patch

import (
	"path/filepath"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
)

// Negative controls: the judges of these tests can say no.

// TestJudgesCatchCorruption: the model of the unpatched tree differs from
// a patched image, and a patch committed with one staged block left out
// (the inode-table block of the new authorized_keys) fails e2fsck.
func TestJudgesCatchCorruption(t *testing.T) {
	for _, k := range []imageKind{kinds[0], kinds[4]} {
		t.Run(k.name, func(t *testing.T) {
			good := k.make(t, t.TempDir())
			bad := k.make(t, t.TempDir())
			base, err := ext4check.ReadImage(t, good)
			if err != nil {
				t.Fatal(err)
			}
			for _, img := range []string{good, bad} {
				im, err := Open(img, Options{Time: patchTime})
				if err != nil {
					t.Fatal(err)
				}
				if err := sandboxPatch(im, nil); err != nil {
					t.Fatal(err)
				}
				if img == bad {
					parent, _, err := im.walk("/root/.ssh/authorized_keys", false, patchTime)
					if err != nil {
						t.Fatal(err)
					}
					e, _, err := im.lookup(parent, "authorized_keys")
					if err != nil || e == nil {
						t.Fatalf("lookup(authorized_keys) = %v, %v", e, err)
					}
					nr, _, err := im.inodeAt(e.ino)
					if err != nil {
						t.Fatal(err)
					}
					delete(im.staged, nr)
				}
				if err := im.Commit(); err != nil {
					t.Fatal(err)
				}
				im.Close()
			}
			got, err := ext4check.ReadImage(t, good)
			if err != nil {
				t.Fatal(err)
			}
			if diffs := ext4check.Compare(base, got, ext4check.Options{NoRootAttrs: k.mke2fs}); len(diffs) == 0 {
				t.Errorf("Compare(unpatched model, patched image) found no difference")
			}
			if err := fsck(t, bad, k); err == nil {
				t.Errorf("fsck(%s with an inode left unwritten) = nil, want an error", bad)
			}
		})
	}
}

// TestCrashJudgeCatchesUnjournaledWrites: the same crash test, run on a
// patcher that writes metadata in place without its journal, finds a
// crash point after which the image is neither the old one nor the new
// one (or not e2fsck-clean): the crash test can fail.
func TestCrashJudgeCatchesUnjournaledWrites(t *testing.T) {
	k := kinds[0]
	dir, orig, oldM := baseImage(t, k)
	md := newModel(oldM).clone()
	patch := func(budget int, md *model) *crashFile {
		cf, err := patchInMemory(orig, budget, md, true)
		if cf == nil {
			t.Fatal(err)
		}
		return cf
	}
	full := patch(-1, md)
	newM := md.manifest()
	caught := 0
	for budget := 0; budget < full.writes; budget++ {
		cf := patch(budget, nil)
		img := filepath.Join(dir, "c.img")
		writeSparse(t, img, cf.b)
		if fsck(t, img, k) != nil {
			caught++
			continue
		}
		got, err := ext4check.ReadImage(t, img)
		if err != nil {
			caught++
			continue
		}
		opts := ext4check.Options{}
		if len(ext4check.Compare(oldM, got, opts)) > 0 && len(ext4check.Compare(newM, got, opts)) > 0 {
			caught++
		}
	}
	if caught == 0 {
		t.Errorf("no crash point of an unjournaled patch (%d writes) was judged broken", full.writes)
	}
	t.Logf("%d of %d crash points of an unjournaled patch judged broken", caught, full.writes)
}
