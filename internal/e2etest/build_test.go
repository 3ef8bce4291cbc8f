package e2etest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/internal/vmtest"
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
//
// Per sandbox, a clone of the fresh image patched by `rootfs-synth patch
// -o` (keys, hostname, session env, a put file) boots too and the guest
// sees each change (patchProblems), the env through the login and the -c
// path; after poweroff it is e2fsck-clean. The unpatched base shows none
// of them (negative control).
func TestBuiltImageBoots(t *testing.T) {
	m := machine(t)
	bin := testenv.Binary(t)
	img, work, n, value := buildBootable(t, m, bin)

	// Per sandbox: a clone of the fresh image patched by the real binary
	// (before the base boots and writes to itself).
	patched, pw, value2 := patchSandbox(t, bin, work, img, n)

	bad := copyImage(t, img)
	zeroSuperblock(t, bad)
	// The base must show none of the patch's facts: the negative control
	// of the patched boot below.
	unpatched := func(got map[string]string) []string {
		if p := patchProblems(got, pw); len(p) != 8 {
			return []string{fmt.Sprintf("negative control: the unpatched image proved %d of the patch's 8 facts", 8-len(p))}
		}
		return nil
	}
	if err := checkBoot(t, m, img, n, value, unpatched); err != nil {
		t.Fatalf("the built image failed the boot check: %v", err)
	}
	if err := checkBoot(t, m, patched, n, value2, func(got map[string]string) []string { return patchProblems(got, pw) }); err != nil {
		t.Fatalf("the patched clone failed the boot check: %v", err)
	}
	if err := checkBoot(t, m, bad, n, value); err == nil {
		t.Fatal("negative control: an image with a zeroed superblock passed the boot check")
	}
	// The image the guest used: ls and cat agree with debugfs on it.
	checkLsCat(t, bin, img)
}

// TestAarch64ImageBoots proves the cross-arch build by boot: the real
// binary, unprivileged, builds with --arch aarch64 from a bootable
// generated aarch64 mirror whose busybox is Debian's arm64 busybox-static
// (nothing of it runs on the build machine), and qemu-system-aarch64 (virt,
// TCG, cortex-a57, Debian's arm64 cloud kernel) boots it with the same
// guest checks as TestBuiltImageBoots, the guest's uname -m included;
// the image says aarch64 in /etc/apk/arch.
// Negative control: the same image with the build machine's x86_64
// busybox put in place of the arm64 one (by `rootfs-synth patch`) must
// fail the check, because its init cannot be executed.
func TestAarch64ImageBoots(t *testing.T) {
	m := machineFor(t, vmtest.Aarch64)
	bin := testenv.Binary(t)
	img, work, n, value := buildBootable(t, m, bin)

	if got, err := debugfsCat(t, img, "/etc/apk/arch"); err != nil || got != "aarch64\n" {
		t.Fatalf("/etc/apk/arch = %q, %v; want aarch64", got, err)
	}
	x86 := filepath.Join(work, "x86-busybox.ext4")
	args := []string{"patch", img, "-o", x86, "--put", "/bin/busybox=" + machine(t).Busybox + ":0755:0:0"}
	if out, err := testenv.Unprivileged(t, bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("rootfs-synth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := checkBoot(t, m, img, n, value); err != nil {
		t.Fatalf("the aarch64 image failed the boot check: %v", err)
	}
	err := checkBoot(t, m, x86, n, value)
	if err == nil {
		t.Fatal("negative control: the aarch64 image with an x86_64 busybox passed the boot check")
	}
	t.Logf("negative control failed as it must: %v", err)
	if !strings.Contains(err.Error(), "Exec format error") {
		t.Errorf("negative control: the aarch64 image with an x86_64 busybox failed the boot check, but not for its arch: %v", err)
	}
}

// buildBootable runs the real binary, as the unprivileged user, against a
// bootable generated mirror for m's arch (its busybox is m's) on
// 127.0.0.1 with only the test key trusted, and builds an image for that
// arch with a start hook and a session-env.sh laid over it. It returns
// the image, the work directory, the hook's nonce and the session
// variable's value.
func buildBootable(t *testing.T, m *vmtest.Machine, bin string) (img, work, n, value string) {
	t.Helper()
	_, mirror, work, keys := servedMirror(t, alpinetest.Options{Arch: m.Arch, Bootable: true, BusyboxPath: m.Busybox})
	n, value = nonce(), "e2e-"+nonce()
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
	img = filepath.Join(work, "img.ext4")
	args := []string{
		"--mirror", mirror, "--branch", alpinetest.Branch, "--arch", m.Arch, "--keys-dir", keys,
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
	t.Logf("built %s (%s) in %v", img, m.Arch, time.Since(start).Round(time.Millisecond))
	return img, work, n, value
}

// patchSandbox runs `rootfs-synth patch IMG -o patched.ext4` as the
// unprivileged user with keys, hostname, the session env (the variable
// the base checks, with a new value, and a value no naive quoting
// survives) and a put file, and returns the clone, what it must show and
// the variable's new value.
func patchSandbox(t *testing.T, bin, work, img, nonce string) (string, patchWant, string) {
	t.Helper()
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2ePatch e2e@" + nonce + "\n"
	put := "put by rootfs-synth patch " + nonce + "\n"
	keyFile, putFile := filepath.Join(work, "key.pub"), filepath.Join(work, "put-proof")
	for p, data := range map[string]string{keyFile: key, putFile: put} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pw := patchWant{hostname: "sandbox-e2e", keysSHA: sha256hex(key), putSHA: sha256hex(put),
		tricky: "it's \"q\" $HOME `id` \\back\\n\nline 2\n"}
	value2 := "patched-" + nonce
	patched := filepath.Join(work, "patched.ext4")
	// Grown to four times the base: df in the guest must show more than
	// three times the base file's size, which the base cannot.
	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	grown := 4 * fi.Size()
	pw.minDFKiB = 3 * fi.Size() / 1024
	args := []string{"patch", img, "-o", patched, "--grow", strconv.FormatInt(grown, 10), "--authorized-keys", keyFile, "--hostname", pw.hostname,
		"--env", envVar + "=" + value2, "--env", trickyVar + "=" + pw.tricky,
		"--put", putPath + "=" + putFile + ":0640:12:34"}
	cmd := testenv.Unprivileged(t, bin, args...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rootfs-synth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("cloned and patched %s in %v", patched, time.Since(start).Round(time.Millisecond))
	return patched, pw, value2
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
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
	repos, mirror, work, keys := servedMirror(t, alpinetest.Options{})
	world := append(slices.Clone(buildWorld), alpinetest.CommunityPackage)
	// --mirror none: only the served repositories, not the official ones too.
	args := []string{"resolve", "--keys-dir", keys, "--cache-dir", filepath.Join(work, "cache"), "--mirror", "none"}
	for _, u := range repos.URLs(mirror) {
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

// servedMirror generates the repositories opts describe (the shared test
// data's, signed with a new test key), serves them on 127.0.0.1 until the
// test ends, and writes the key into a world-readable work directory for
// the unprivileged build: it returns the repositories, the server's URL,
// the work directory and the keys directory in it.
func servedMirror(t *testing.T, opts alpinetest.Options) (repos *alpinetest.Repos, url, work, keys string) {
	t.Helper()
	key, err := apktest.NewKey("e2e")
	if err != nil {
		t.Fatal(err)
	}
	opts.Testdata, opts.Key = testenv.SharedTestdata(t), key
	if repos, err = alpinetest.Base(opts); err != nil {
		t.Fatal(err)
	}
	srv := repos.NewServer()
	t.Cleanup(srv.Close)
	work = testenv.WorldDir(t)
	keys = filepath.Join(work, "keys")
	if err := repos.WriteKey(keys); err != nil {
		t.Fatal(err)
	}
	return repos, srv.URL, work, keys
}
