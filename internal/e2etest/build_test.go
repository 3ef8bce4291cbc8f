package e2etest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// buildWorld is what the test asks the build for.
var buildWorld = []string{"alpine-baselayout", "alpine-keys", "busybox", "busybox-suid", "busybox-binsh"}

// TestBuiltImageBoots is the end-to-end test: the real binary, run as an
// unprivileged user against a bootable generated mirror on 127.0.0.1 with
// only the test key trusted, builds an image with a start hook and a
// session-env.sh laid over it; QEMU boots it with
// init=/usr/sbin/sbx-init, and the guest must prove everything
// guestProblems lists, its write must be in the image after poweroff and
// the image e2fsck-clean. A copy with a zeroed superblock must fail the
// same check (negative control).
func TestBuiltImageBoots(t *testing.T) {
	m := machine(t)
	bin := testenv.Binary(t)
	key, err := apktest.NewKey("e2e")
	if err != nil {
		t.Fatal(err)
	}
	repos, err := alpinetest.Base(alpinetest.Options{
		Testdata: testenv.SharedTestdata(t), Key: key, Bootable: true, BusyboxPath: m.Busybox})
	if err != nil {
		t.Fatal(err)
	}
	srv := repos.NewServer() // 127.0.0.1
	defer srv.Close()

	work := testenv.WorldDir(t)
	keys := filepath.Join(work, "keys")
	if err := repos.WriteKey(keys); err != nil {
		t.Fatal(err)
	}
	n, value := nonce(), "e2e-"+nonce()
	overlay := filepath.Join(work, "files")
	for p, data := range map[string]string{hookPath: hookScript(n), sessionEnv: sessionEnvScript(value)} {
		full := filepath.Join(overlay, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if p == hookPath {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	img := filepath.Join(work, "img.ext4")
	args := []string{
		"--mirror", srv.URL, "--branch", alpinetest.Branch, "--keys-dir", keys,
		"--profile", "none", "--files", overlay, "--cache-dir", filepath.Join(work, "cache"),
		"--report", filepath.Join(work, "report.json"), "-o", img,
	}
	for _, p := range buildWorld {
		args = append(args, "-p", p)
	}
	cmd := testenv.Unprivileged(t, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+work)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("rootfs-synth %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	t.Logf("built %s in %v", img, time.Since(start).Round(time.Millisecond))

	bad := copyImage(t, img)
	zeroSuperblock(t, bad)
	if err := checkBoot(t, m, img, n, value); err != nil {
		t.Fatalf("the built image failed the boot check: %v", err)
	}
	if err := checkBoot(t, m, bad, n, value); err == nil {
		t.Fatal("negative control: an image with a zeroed superblock passed the boot check")
	}
	// The image the guest used: ls and cat agree with debugfs on it.
	checkLsCat(t, bin, img)
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// TestResolveAgainstServedMirror: the landed `rootfs-synth resolve`, run
// unprivileged against the generated mirror over HTTP with only the test
// key added, selects what apk.Solve selects — the generated repositories
// work with the real binary's fetch, verify and solve path today.
func TestResolveAgainstServedMirror(t *testing.T) {
	bin := testenv.Binary(t)
	key, err := apktest.NewKey("e2e")
	if err != nil {
		t.Fatal(err)
	}
	repos, err := alpinetest.Base(alpinetest.Options{Testdata: testenv.SharedTestdata(t), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := repos.NewServer()
	defer srv.Close()
	work := testenv.WorldDir(t)
	keys := filepath.Join(work, "keys")
	if err := repos.WriteKey(keys); err != nil {
		t.Fatal(err)
	}
	world := append(slices.Clone(buildWorld), alpinetest.CommunityPackage)
	args := []string{"resolve", "--keys-dir", keys, "--cache-dir", filepath.Join(work, "cache")}
	for _, u := range repos.URLs(srv.URL) {
		args = append(args, "--repository", u)
	}
	cmd := testenv.Unprivileged(t, bin, append(args, world...)...)
	cmd.Env = append(os.Environ(), "HOME="+work)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rootfs-synth %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}

	pkgs := solveWorld(t, repos, world)
	var want strings.Builder
	for _, p := range pkgs {
		want.WriteString(p.Name + "-" + p.Version + "\n")
	}
	if string(out) != want.String() {
		t.Errorf("rootfs-synth resolve %v =\n%s\nwant\n%s", world, out, want.String())
	}
}
