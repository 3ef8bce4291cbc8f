//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestLockPinsInputs: the report of a build with a hostname, an overlay,
// authorized keys, a trusted key, a size and SOURCE_DATE_EPOCH rebuilds
// the identical image with --lock, given only the contents a report
// cannot carry (the overlay, the keys); the lock supplies the rest. The
// negative control: the same build without the lock and its inputs
// gives another image. Then each input that differs from the lock's is
// refused in one line naming it: the overlay's content, a contradicting
// --hostname, the authorized keys and the overlay left out, another key
// by the key's name, one more guest repository, the key left out. A
// report without inputs (an older version's) still pins the packages.
func TestLockPinsInputs(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	overlay := filepath.Join(dir, "overlay")
	must(t, os.MkdirAll(filepath.Join(overlay, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(overlay, "etc", "motd"), []byte("welcome\n"), 0o644))
	ak := filepath.Join(dir, "authorized_keys")
	must(t, os.WriteFile(ak, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test\n"), 0o644))
	lock := filepath.Join(dir, "lock.json")
	build := func(env []string, args ...string) (string, string, int) {
		t.Helper()
		out := filepath.Join(dir, "img.ext4")
		os.Remove(out)
		cmd := m.command(t, nil, append(append(m.trusted(), "-o", out), args...)...)
		cmd.Env = append(cmd.Env, env...)
		_, stderr, code := runCmd(t, cmd)
		if code != 0 {
			return "", stderr, code
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return sha256Hex(data), stderr, code
	}
	first, stderr, code := build([]string{"SOURCE_DATE_EPOCH=1750000000"}, "--profile", "none", "-p", "extra",
		"--hostname", "sbx1", "--files", overlay, "--authorized-keys", ak, "--size", "64M", "--report", lock)
	if code != 0 {
		t.Fatalf("first build = exit %d\n%s", code, stderr)
	}
	again, stderr, code := build(nil, "--lock", lock, "--files", overlay, "--authorized-keys", ak)
	if code != 0 || again != first {
		t.Errorf("rebuild with --lock = exit %d, sha256 %s; want the first image's %s\nstderr: %s", code, again, first, stderr)
	}
	// The overlay's own directory does not reach the image (its / is the
	// image's): its mtime and mode do not count.
	past := time.Unix(1650000000, 0)
	must(t, os.Chtimes(overlay, past, past))
	must(t, os.Chmod(overlay, 0o775))
	again, stderr, code = build(nil, "--lock", lock, "--files", overlay, "--authorized-keys", ak)
	if code != 0 || again != first {
		t.Errorf("rebuild with --lock, the overlay's root older and 0775 = exit %d, sha256 %s; want the first image's %s\nstderr: %s", code, again, first, stderr)
	}
	must(t, os.Chmod(overlay, 0o755))
	plain, stderr, code := build(nil, "--profile", "none", "-p", "extra")
	if code != 0 || plain == first {
		t.Errorf("negative control: a build without the lock's inputs = exit %d, sha256 %s; want another image than %s\nstderr: %s", code, plain, first, stderr)
	}

	must(t, os.WriteFile(filepath.Join(overlay, "etc", "motd"), []byte("welcome, changed\n"), 0o644))
	args := []string{"--lock", lock, "--files", overlay, "--authorized-keys", ak}
	_, stderr, code = build(nil, args...)
	checkFailure(t, args, stderr, code, `--lock "`+lock+`": overlay "--files `+overlay+`" differs from the lock's (sha256:`)
	must(t, os.WriteFile(filepath.Join(overlay, "etc", "motd"), []byte("welcome\n"), 0o644))

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"hostname contradicts", []string{"--hostname", "sbx2", "--files", overlay, "--authorized-keys", ak}, `--hostname "sbx2" differs from the lock's "sbx1"`},
		{"authorized keys left out", []string{"--files", overlay}, "the lock's --authorized-keys (sha256:"},
		{"overlay left out", []string{"--authorized-keys", ak}, "0 overlays are given (--files), the lock has 1"},
	} {
		args := append([]string{"--lock", lock}, tt.args...)
		_, stderr, code := build(nil, args...)
		if last := strings.TrimSpace(stderr); code != 2 || strings.Count(last, "\n") > 0 || !strings.Contains(last, tt.want) {
			t.Errorf("%s: rootfs-synth %s = exit %d, stderr %q; want exit 2 and one line naming %q", tt.name, strings.Join(args, " "), code, stderr, tt.want)
		}
	}
	// Content that differs from the lock's: another key by the same name,
	// one more guest repository.
	other, err := apktest.NewKey(m.key.Name)
	if err != nil {
		t.Fatal(err)
	}
	otherKeys := filepath.Join(dir, "other-keys")
	must(t, os.MkdirAll(otherKeys, 0o755))
	must(t, os.WriteFile(filepath.Join(otherKeys, other.Name), other.PublicPEM(), 0o644))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"key", []string{"--arch", "x86_64", "--keys-dir", otherKeys, "--mirror", m.srv.URL}, `key "` + m.key.Name + `" differs from the lock's (sha256:`},
		{"guest repositories", append(m.trusted(), "--guest-repository", "https://other.example/alpine/v3.23/main"), `the guest's repositories [`},
	} {
		args := append(tt.args, "--lock", lock, "--files", overlay, "--authorized-keys", ak, "-o", filepath.Join(dir, "img.ext4"))
		_, stderr, code := runCmd(t, m.command(t, nil, args...))
		checkFailure(t, args, stderr, code, tt.want)
	}
	// A report of an older version, without inputs, still reads and pins
	// the packages only: other inputs are the flags'.
	data, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	must(t, json.Unmarshal(data, &rep))
	delete(rep, "inputs")
	data, err = json.Marshal(rep)
	must(t, err)
	old := filepath.Join(dir, "old-lock.json")
	must(t, os.WriteFile(old, data, 0o644))
	if _, stderr, code := build(nil, "--lock", old, "--hostname", "sbx2"); code != 0 {
		t.Errorf("rebuild with a lock without inputs and another hostname = exit %d, want 0\nstderr: %s", code, stderr)
	}
	// Without --keys-dir the mirror's key is not trusted: the lock names it.
	cmd := m.command(t, nil, "--arch", "x86_64", "--mirror", m.srv.URL, "--lock", lock, "--files", overlay, "--authorized-keys", ak, "-o", filepath.Join(dir, "img.ext4"))
	_, stderr, code = runCmd(t, cmd)
	if want := `the lock's key "` + m.key.Name + `"`; code != 2 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--keys-dir") {
		t.Errorf("rebuild without --keys-dir = exit %d, stderr %q; want exit 2 naming %q and --keys-dir", code, stderr, want)
	}
}
