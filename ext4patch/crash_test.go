//go:build linux

package ext4patch

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// crashPatch is the patch of the crash test: a sandbox's keys, hostname
// and env, the filesystem grown to three times its size (new groups at
// 1 KiB blocks, a longer last group at 4 KiB), a file with hard links
// replaced, a name removed.
func crashPatch(im *Image, md *model) error {
	if err := sandboxPatch(im, md); err != nil {
		return err
	}
	if err := im.Grow(3 * im.size); err != nil {
		return err
	}
	data := []byte(strings.Repeat("new passwd\n", 700))
	if err := im.Put("/etc/passwd", bytes.NewReader(data), 0o600, 0, 0, patchTime); err != nil {
		return err
	}
	if err := im.Remove("/etc/hostname"); err != nil {
		return err
	}
	if md != nil {
		md.put("/etc/passwd", data, 0o600, 0, 0, patchTime)
		md.remove("/etc/hostname")
	}
	return nil
}

// TestCrashAtEveryWrite stops the image's writes after the k-th, for
// every k of a patch (a grow among its changes), then recovers a copy
// with e2fsck's journal replay and another with Open's Replay: each must
// be e2fsck-clean and hold exactly the old tree or the new one, and the
// new one the grown block count.
func TestCrashAtEveryWrite(t *testing.T) {
	e2fsckBin := testenv.Tool(t, "e2fsck")
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			dir, orig, oldM := baseImage(t, k)
			md := newModel(oldM).clone()
			patch := func(budget int, md *model) (*crashFile, error) { return patchInMemory(orig, budget, md, false) }
			full, err := patch(-1, md)
			if err != nil {
				t.Fatal(err)
			}
			newM := md.manifest()
			opts := ext4check.Options{NoRootAttrs: k.mke2fs}
			oldBlocks, _, _ := superCounts(t, filepath.Join(dir, k.name+".img"))
			// which says whether img holds the old tree or the new one.
			which := func(img string) string {
				t.Helper()
				got := judge(t, img, k)
				if len(ext4check.Compare(oldM, got, opts)) == 0 {
					return "old"
				}
				if diffs := ext4check.Compare(newM, got, opts); len(diffs) > 0 {
					t.Fatalf("%s is neither the old image nor the new one; from the new:\n%s", img, strings.Join(diffs, "\n"))
				}
				if blocks, _, _ := superCounts(t, img); blocks <= oldBlocks {
					t.Fatalf("%s holds the new tree in %d blocks, the old image's count", img, blocks)
				}
				return "new"
			}
			outcomes := map[string]int{}
			for budget := 0; budget <= full.writes; budget++ {
				cf, err := patch(budget, nil)
				if budget < full.writes && err == nil {
					t.Fatalf("a commit with %d of %d writes succeeded", budget, full.writes)
				}
				// e2fsck replays the journal (and only that), then judges.
				a := filepath.Join(dir, "a.img")
				writeSparse(t, a, cf.b)
				if out, err := exec.Command(e2fsckBin, "-y", "-E", "journal_only", a).CombinedOutput(); err != nil && !isExit(err, 1) {
					t.Fatalf("crash after %d writes: e2fsck -E journal_only: %v\n%s", budget, err, out)
				}
				byFsck := which(a)
				// Open with Replay does the same.
				mine := &crashFile{b: bytes.Clone(cf.b), budget: -1}
				if _, err := open(mine, "crash.img", int64(len(mine.b)), Options{Replay: true}); err != nil {
					t.Fatalf("crash after %d writes: Open with Replay: %v", budget, err)
				}
				b := filepath.Join(dir, "b.img")
				writeSparse(t, b, mine.b)
				byMe := which(b)
				if byFsck != byMe {
					t.Fatalf("crash after %d writes: e2fsck recovers the %s image, Replay the %s one", budget, byFsck, byMe)
				}
				outcomes[byMe]++
			}
			if outcomes["old"] == 0 || outcomes["new"] == 0 {
				t.Errorf("outcomes %v: want both the old and the new image among %d crash points", outcomes, full.writes+1)
			}
			t.Logf("%d crash points: %v", full.writes+1, outcomes)
		})
	}
}

// patchInMemory applies crashPatch (mirrored in md unless nil) to a copy
// of the image orig whose writes stop after budget units; unjournaled
// drops the journal as a patcher without one would write.
func patchInMemory(orig []byte, budget int, md *model, unjournaled bool) (*crashFile, error) {
	cf := &crashFile{b: bytes.Clone(orig), budget: budget}
	im, err := open(cf, "crash.img", int64(len(orig)), Options{Time: patchTime})
	if err != nil {
		return nil, err
	}
	if unjournaled {
		im.jnl = nil
	}
	if err := crashPatch(im, md); err != nil {
		return nil, err
	}
	return cf, im.Commit()
}

func isExit(err error, code int) bool {
	e, ok := err.(*exec.ExitError)
	return ok && e.ExitCode() == code
}

// writeSparse writes b to p, leaving holes for its zero blocks.
func writeSparse(t *testing.T, p string, b []byte) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(len(b))); err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 4096)
	for off := 0; off < len(b); off += 4096 {
		c := b[off:min(len(b), off+4096)]
		if bytes.Equal(c, zero[:len(c)]) {
			continue
		}
		if _, err := f.WriteAt(c, int64(off)); err != nil {
			t.Fatal(err)
		}
	}
}
