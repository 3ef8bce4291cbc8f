package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// The sha256 of the images TestImagesPinned builds. They pin the bytes the
// build and mkfs write, so that a change meant to move code and not
// behaviour (issue 13's "one house") can show it changed nothing. A change
// that is meant to change the image (a new feature of the writer, another
// default) updates them in the same commit and says why.
const (
	pinnedBuild = "b1f0d093b972b95313d48e36b3bf2ddf773c6fdcb647f32aa5721289b532ba2c"
	pinnedMkfs  = "5eaf8b086e3b9fb69345021bbb2c6934e81af73b8181e76a2f30ca506b7b276a" // HostTree as root: devices, foreign owners, a capability
)

// TestImagesPinned builds the generated base repository (signed with a
// fixed key, so the alpine-keys package is the same from run to run) and
// mkfs's every-kind host tree, with SOURCE_DATE_EPOCH, and compares the
// images' sha256 with the pinned ones.
func TestImagesPinned(t *testing.T) {
	key, err := apktest.FixedKey()
	if err != nil {
		t.Fatal(err)
	}
	work := testenv.WorldDir(t)
	mirror := filepath.Join(work, "mirror")
	repos, err := alpinetest.WriteMirror(mirror, alpinetest.Options{Testdata: testenv.SharedTestdata(t), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := repos.WriteKey(mirror); err != nil {
		t.Fatal(err)
	}
	bin := testenv.Binary(t)
	run := func(args ...string) {
		t.Helper()
		cmd := testenv.Unprivileged(t, bin, args...)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1750000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rootfs-synth %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	img := filepath.Join(work, "build.ext4")
	run(append([]string{"-q", "--offline", "--mirror", "file://" + mirror, "--keys-dir", mirror,
		"--cache-dir", filepath.Join(work, "cache"), "--profile", "none", "-o", img},
		packageFlags(alpinetest.BaseWorld)...)...)
	checkPinned(t, "the build of the generated base", img, pinnedBuild)

	if os.Geteuid() != 0 {
		// HostTree makes devices, foreign owners and a capability only as
		// root; the pinned image is of that tree (CI runs as root).
		if testenv.InCI() {
			t.Fatal("CI runs the tests as root: mkfs's pinned image is of HostTree as root")
		}
		t.Skip("mkfs's pinned image is of HostTree as root")
	}
	tree := filepath.Join(t.TempDir(), "tree")
	testenv.HostTree(t, tree)
	mkfsImg := filepath.Join(t.TempDir(), "mkfs.ext4")
	// As root, as the tree was made: mkfs reads its devices, foreign
	// owners and security.* xattrs.
	c := exec.Command(bin, "mkfs", tree, "-o", mkfsImg)
	c.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1750000000")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("rootfs-synth mkfs: %v\n%s", err, out)
	}
	checkPinned(t, "mkfs of HostTree", mkfsImg, pinnedMkfs)
}

func packageFlags(names []string) []string {
	var args []string
	for _, n := range names {
		args = append(args, "-p", n)
	}
	return args
}

func checkPinned(t *testing.T, what, path, want string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("sha256 of %s = %s, want the pinned %s", what, got, want)
	}
}
