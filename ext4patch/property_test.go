//go:build linux

package ext4patch

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
)

// propertySequences is how many random patch sequences TestRandomPatches
// runs, spread over the image kinds; -short runs a tenth.
const propertySequences = 1008

// TestRandomPatches applies random sequences of puts (new files, new
// directories, replaced files and symlinks, files big enough to need an
// extent block, enough names to rewrite a directory into a hash tree) and
// removals and grows to every kind of image, each committed in a few
// commits, and checks after each sequence that e2fsck finds the image
// clean, that debugfs reads back the model's tree and that dumpe2fs sees
// the grown block count.
func TestRandomPatches(t *testing.T) {
	n := propertySequences
	if testing.Short() {
		n /= 10
	}
	perKind := n / len(kinds)
	for ki, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			dir, orig, m := baseImage(t, k)
			img := filepath.Join(dir, "work.img")
			origBlocks, _, _ := superCounts(t, filepath.Join(dir, k.name+".img"))
			grown := 0
			defer func() { t.Logf("%d sequences, %d with a grow", perKind, grown) }()
			for seq := range perKind {
				if err := os.WriteFile(img, orig, 0o644); err != nil {
					t.Fatal(err)
				}
				md := newModel(m).clone()
				rng := rand.New(rand.NewPCG(uint64(ki), uint64(seq)))
				log, err := randomSequence(img, md, rng)
				if err != nil {
					t.Fatalf("sequence %d: %v\nsteps:\n%s", seq, err, log)
				}
				if err := fsck(t, img, k); err != nil {
					t.Fatalf("sequence %d: %v\nsteps:\n%s", seq, err, log)
				}
				got, err := ext4check.ReadImage(t, img)
				if err != nil {
					t.Fatal(err)
				}
				if diffs := ext4check.Compare(md.manifest(), got, ext4check.Options{NoRootAttrs: k.mke2fs}); len(diffs) > 0 {
					t.Fatalf("sequence %d: image differs from the model:\n%s\nsteps:\n%s", seq, strings.Join(diffs, "\n"), log)
				}
				if strings.Contains(log, "refused: false") {
					grown++
				}
				if strings.Contains(log, "grow ") {
					st, err := os.Stat(img)
					if err != nil {
						t.Fatal(err)
					}
					blocks, _, _ := superCounts(t, img)
					bs := int64(len(orig)) / origBlocks
					if want := st.Size() / bs; blocks > want || blocks < want-8*bs {
						t.Fatalf("sequence %d: dumpe2fs block count %d, the file holds %d blocks\nsteps:\n%s", seq, blocks, want, log)
					}
				}
			}
		})
	}
}

// randomSequence opens img, applies 1 to 3 commits of 1 to 8 random
// changes each, mirrored in md, and returns what it did.
func randomSequence(img string, md *model, rng *rand.Rand) (string, error) {
	var log strings.Builder
	for range 1 + rng.IntN(3) {
		im, err := Open(img, Options{Time: patchTime})
		if err != nil {
			return log.String(), err
		}
		for range 1 + rng.IntN(8) {
			if err := randomChange(im, md, rng, &log); err != nil {
				im.Close()
				return log.String(), err
			}
		}
		err = im.Commit()
		im.Close()
		fmt.Fprintln(&log, "commit")
		if err != nil {
			return log.String(), err
		}
	}
	return log.String(), nil
}

func randomChange(im *Image, md *model, rng *rand.Rand, log *strings.Builder) error {
	paths := slices.Sorted(maps.Keys(md.m))
	pick := func(ok func(p string, n *ext4check.Node) bool) string {
		var c []string
		for _, p := range paths {
			if ok(p, md.m[p]) && !strings.HasPrefix(p, "/lost+found") {
				c = append(c, p)
			}
		}
		if len(c) == 0 {
			return ""
		}
		return c[rng.IntN(len(c))]
	}
	size := rng.IntN(3 * 4096)
	switch rng.IntN(10) {
	case 0:
		size = 20000 + rng.IntN(60000)
	case 1:
		size = 0
	}
	data := bytes.Repeat([]byte{byte(rng.IntN(255) + 1)}, size)
	mt := time.Unix(1600000000+rng.Int64N(1e8), rng.Int64N(1e9))
	perm := fs.FileMode(rng.IntN(0o1000)) | []fs.FileMode{0, fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky}[rng.IntN(4)]
	uid, gid := uint32(rng.IntN(3)*1000), uint32(rng.IntN(70000))
	put := func(p string) error {
		fmt.Fprintf(log, "put %s (%d bytes)\n", p, len(data))
		if err := im.Put(p, bytes.NewReader(data), perm, int(uid), int(gid), mt); err != nil {
			return err
		}
		md.put(p, data, perm, uid, gid, mt)
		return nil
	}
	switch op := rng.IntN(11); {
	case op == 10: // grow by 10 to 150 %; past the reserve is refused and changes nothing
		size := im.size + im.size*int64(10+rng.IntN(141))/100
		err := im.Grow(size)
		if err != nil && !strings.Contains(err.Error(), "can grow to at most") && !strings.Contains(err.Error(), "staged already") {
			return err
		}
		fmt.Fprintf(log, "grow %d (refused: %v)\n", size, err != nil)
		return nil
	case op < 3: // a new file in an existing directory
		d := pick(func(_ string, n *ext4check.Node) bool { return n.Type == 'd' })
		return put(strings.TrimSuffix(d, "/") + "/" + fmt.Sprintf("new-%d-%s", rng.IntN(1e6), strings.Repeat("x", rng.IntN(200))))
	case op < 4: // many new names in one directory: it must grow, maybe into a hash tree
		d := pick(func(_ string, n *ext4check.Node) bool { return n.Type == 'd' })
		data = data[:min(len(data), 10)]
		for i := range 20 + rng.IntN(60) {
			if err := put(fmt.Sprintf("%s/many-%d-%d-%s", strings.TrimSuffix(d, "/"), rng.IntN(1e6), i, strings.Repeat("m", rng.IntN(100)))); err != nil {
				return err
			}
		}
		return nil
	case op < 5: // new directories
		return put(fmt.Sprintf("/new%d/a%d/b/file", rng.IntN(100), rng.IntN(3)))
	case op < 7: // replace a file or a symlink
		p := pick(func(p string, n *ext4check.Node) bool {
			return n.Type == 'f' || n.Type == 'l' && !strings.HasPrefix(p, "/var/")
		})
		if p == "" {
			return nil
		}
		return put(p)
	default: // remove a file, symlink, device or empty directory
		p := pick(func(p string, n *ext4check.Node) bool {
			if n.Type != 'd' {
				return true
			}
			for q := range md.m {
				if strings.HasPrefix(q, p+"/") {
					return false
				}
			}
			return p != "/"
		})
		if p == "" {
			return nil
		}
		fmt.Fprintf(log, "remove %s\n", p)
		if err := im.Remove(p); err != nil {
			return err
		}
		md.remove(p)
		return nil
	}
}

var _ = e2fsck.Check
