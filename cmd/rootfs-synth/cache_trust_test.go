//go:build linux

package main

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// Issue 12, defects 1 and 2: a second local user (testenv.OtherUID) attacks
// the build of the first (testenv.NobodyUID) through the cache directory.

const victimUID, attackerUID = testenv.NobodyUID, testenv.OtherUID

var (
	realBusybox = []byte("#!/bin/sh\necho the real busybox\n")
	evilBusybox = []byte("#!/bin/sh\necho the attacker's busybox, setuid root\n")
)

func busyboxMirror(t *testing.T) *mirror {
	t.Helper()
	return newMirror(t, apktest.Pkg{Name: "busybox", Version: "1.37.0-r0",
		Files: []apktest.File{{Name: "bin/busybox", Mode: 0o755, Data: realBusybox}}})
}

// buildAs builds busybox as uid with the cache in cache, into img.
func buildAs(t *testing.T, m *mirror, uid int, cache, img string) (args []string, stderr string, code int) {
	t.Helper()
	args = append(m.trusted(), "--cache-dir", cache, "--profile", "none", "-p", "busybox", "-o", img)
	cmd := testenv.AsUser(t, uid, uid, testenv.Binary(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+m.home)
	_, stderr, code = runCmd(t, cmd)
	return args, stderr, code
}

// warm builds busybox once as the victim, into a cache the victim makes
// (0755, theirs), and returns the image.
func warm(t *testing.T, m *mirror, cache, out string) string {
	t.Helper()
	img := filepath.Join(out, "warm.ext4")
	if args, stderr, code := buildAs(t, m, victimUID, cache, img); code != 0 {
		t.Fatalf("warming the cache: rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	return img
}

// poison makes, as uid, the store's manifest and data of busybox say that
// /bin/busybox is a setuid-root copy of evilBusybox, as anyone who can
// write the directory holding them can: new files renamed over the old
// ones. With replaceStore the attacker (who cannot enter the victim's 0700
// unpacked/) moves the victim's whole store aside in a cache directory
// they can write and puts their own in its place, open to everyone so
// that the victim's build can still write to it.
func poison(t *testing.T, uid int, cache, staging string, replaceStore bool) {
	t.Helper()
	pkgs := filepath.Join(cache, "unpacked", "pkgs-v2")
	ents, err := os.ReadDir(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	var manifestPath string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(pkgs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"package":"busybox-`) {
			manifestPath = filepath.Join(pkgs, e.Name())
		}
	}
	if manifestPath == "" {
		t.Fatalf("%s holds no manifest of busybox", pkgs)
	}
	b, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var man map[string]any
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(evilBusybox)
	found := false
	for _, e := range man["entries"].([]any) {
		e := e.(map[string]any)
		if e["n"] == "bin/busybox" {
			e["m"], e["s"], e["h"], e["o"] = 0o4755, len(evilBusybox), hex.EncodeToString(sum[:]), 0
			found = true
		}
	}
	if !found {
		t.Fatalf("the manifest %s has no bin/busybox", manifestPath)
	}
	man["data_size"] = len(evilBusybox)
	evilManifest, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"m.json": evilManifest, "m.data": evilBusybox} {
		if err := os.WriteFile(filepath.Join(staging, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := `set -e; umask 022; cd "$2"
if [ "$4" = replace ]; then
	mv unpacked unpacked.old
	mkdir -m 0777 unpacked unpacked/pkgs-v2 unpacked/tmp unpacked/files
	chmod 0777 unpacked unpacked/pkgs-v2 unpacked/tmp unpacked/files
fi
cp "$1/m.data" "unpacked/pkgs-v2/$3.data.new"; mv -f "unpacked/pkgs-v2/$3.data.new" "unpacked/pkgs-v2/$3.data"
cp "$1/m.json" "unpacked/pkgs-v2/$3.json.new"; mv -f "unpacked/pkgs-v2/$3.json.new" "unpacked/pkgs-v2/$3.json"`
	how := "rename"
	if replaceStore {
		how = "replace"
	}
	cmd := testenv.AsUser(t, uid, uid, "/bin/sh", "-c", script, "sh", staging, cache,
		strings.TrimSuffix(filepath.Base(manifestPath), ".json"), how)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("poisoning the cache as uid %d: %v\n%s", uid, err, out)
	}
}

// poisoned reports whether img holds the attacker's setuid busybox.
func poisoned(t *testing.T, img string) bool {
	t.Helper()
	got, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	n := got["/bin/busybox"]
	if n == nil {
		t.Fatalf("%s has no /bin/busybox", img)
	}
	return n.Perm&0o4000 != 0 || n.SHA256 == sha256Hex(evilBusybox)
}

// TestCacheOfAnotherUserRefused (defect 1): a cache another user can
// change is refused with one line naming the directory and the fix, before
// anything is built, whether the cache directory itself or a directory in
// it is open to them.
func TestCacheOfAnotherUserRefused(t *testing.T) {
	m := busyboxMirror(t)
	for _, tc := range []struct {
		name    string
		open    func(t *testing.T, cache string) // after the warm-up, before the attack
		culprit string                           // relative to the cache
		replace bool                             // the attacker replaces the whole store
		want    string
	}{
		{"cache 0777", func(t *testing.T, cache string) { chmod(t, cache, 0o777) },
			"", true, "is writable by every user (mode 0777, owner uid 65534)"},
		{"pkgs-v2 0777", func(t *testing.T, cache string) {
			chmod(t, filepath.Join(cache, "unpacked"), 0o755) // a directory others may enter is fine
			chmod(t, filepath.Join(cache, "unpacked", "pkgs-v2"), 0o777)
		}, "unpacked/pkgs-v2", false, "is writable by every user (mode 0777, owner uid 65534)"},
		{"pkgs-v2 of another user", func(t *testing.T, cache string) {
			chmod(t, filepath.Join(cache, "unpacked"), 0o755)
			dir := filepath.Join(cache, "unpacked", "pkgs-v2")
			if err := os.Chown(dir, attackerUID, attackerUID); err != nil {
				t.Fatal(err)
			}
			chmod(t, dir, 0o755) // readable, so that the victim's build can take the bait
		}, "unpacked/pkgs-v2", false, "is owned by uid 65533"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			world := testenv.WorldDir(t)
			cache, out := filepath.Join(world, "cache"), filepath.Join(world, "out")
			warm(t, m, cache, out)
			tc.open(t, cache)
			poison(t, attackerUID, cache, world, tc.replace)
			img := filepath.Join(out, "attacked.ext4")
			args, stderr, code := buildAs(t, m, victimUID, cache, img)
			if code == 0 && poisoned(t, img) {
				t.Fatalf("rootfs-synth %s built an image with the attacker's setuid /bin/busybox from a cache uid %d could change",
					strings.Join(args, " "), attackerUID)
			}
			culprit := filepath.Join(cache, tc.culprit)
			checkFailure(t, args, stderr, code, culprit+" "+tc.want)
			if !strings.Contains(stderr, "another user could change what you build") {
				t.Errorf("the error does not say why: %s", stderr)
			}
			if _, err := os.Lstat(img); err == nil {
				t.Errorf("a refused build wrote %s", img)
			}
		})
	}
	t.Run("cold cache 0777", func(t *testing.T) {
		world := testenv.WorldDir(t)
		cache := filepath.Join(world, "cache")
		if err := os.Mkdir(cache, 0o777); err != nil {
			t.Fatal(err)
		}
		chmod(t, cache, 0o777)
		img := filepath.Join(world, "out", "img.ext4")
		args, stderr, code := buildAs(t, m, victimUID, cache, img)
		checkFailure(t, args, stderr, code, cache+" is writable by every user (mode 0777, owner uid 0)")
		if !strings.Contains(stderr, "remove the cache (rootfs-synth makes a new one)") {
			t.Errorf("the error does not name the fix: %s", stderr)
		}
	})
}

// TestCacheOfSameUserTrusted is the negative control of
// TestCacheOfAnotherUserRefused: the same poisoning done by the cache's
// own user is trusted by design and does reach the image, and poisoned
// sees it (and says no on the image before).
func TestCacheOfSameUserTrusted(t *testing.T) {
	m := busyboxMirror(t)
	world := testenv.WorldDir(t)
	cache, out := filepath.Join(world, "cache"), filepath.Join(world, "out")
	clean := warm(t, m, cache, out)
	if poisoned(t, clean) {
		t.Fatalf("poisoned(%s) = true before any poisoning", clean)
	}
	poison(t, victimUID, cache, world, false)
	img := filepath.Join(out, "self-poisoned.ext4")
	args, stderr, code := buildAs(t, m, victimUID, cache, img)
	if code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	if !poisoned(t, img) {
		t.Errorf("poisoned(%s) = false after the cache's own user poisoned it, want true", img)
	}
}

// TestTempSweepKeepsSymlinkTarget (defect 2): the store's temporary
// directory replaced by a symlink to a directory of the user's (even one
// holding old files named like the store's temporaries) loses nothing to
// the sweep of stale temporaries.
func TestTempSweepKeepsSymlinkTarget(t *testing.T) {
	m := busyboxMirror(t)
	world := testenv.WorldDir(t)
	cache, out := filepath.Join(world, "cache"), filepath.Join(world, "out")
	warm(t, m, cache, out)

	victim := filepath.Join(world, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	names := []string{"thesis.tex", "data-12345", "put-678", ".busybox.apk.tmp42"}
	for _, n := range append([]string{""}, names...) {
		p := filepath.Join(victim, n)
		if n != "" {
			if err := os.WriteFile(p, []byte("precious\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(p, victimUID, victimUID); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(cache, "unpacked", "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(tmp, victimUID, victimUID); err != nil {
		t.Fatal(err)
	}
	args, stderr, code := buildAs(t, m, victimUID, cache, filepath.Join(out, "img.ext4"))
	t.Logf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(victim, n)); err != nil {
			t.Errorf("%s after a build with %s a symlink to its directory: %v", filepath.Join(victim, n), tmp, err)
		}
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
