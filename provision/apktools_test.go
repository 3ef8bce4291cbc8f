//go:build linux

package provision

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// extract writes the tree below dir as the guest would see it (owners
// only when run as root).
func extract(t *testing.T, tr *rootfs.Tree, dir string) {
	t.Helper()
	err := tr.Walk(func(p string, n *rootfs.Node) error {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		switch {
		case p == "":
		case n.IsDir():
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
		case n.Mode&fs.ModeSymlink != 0:
			return os.Symlink(n.Linkname, dst)
		case n.Mode.IsRegular():
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			if n.Content != nil {
				rc, err := n.Content()
				if err != nil {
					return err
				}
				_, err = io.Copy(f, rc)
				rc.Close()
				if err != nil {
					return err
				}
			}
			if err := f.Close(); err != nil {
				return err
			}
		default:
			return nil // devices and FIFOs: none in these packages
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Owners and modes after the contents, deepest first, so a 0555
	// directory does not stop its own filling.
	paths := tr.Paths()
	for i := len(paths) - 1; i >= 0; i-- {
		n, _ := tr.Get(paths[i])
		dst := filepath.Join(dir, filepath.FromSlash(paths[i]))
		if n.Mode&fs.ModeSymlink != 0 {
			if os.Geteuid() == 0 {
				os.Lchown(dst, int(n.UID), int(n.GID))
			}
			continue
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(dst, int(n.UID), int(n.GID)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dst, n.Mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			t.Fatal(err)
		}
		for k, v := range n.Xattrs {
			if err := syscall.Setxattr(dst, k, v, 0); err != nil {
				t.Fatalf("setting %s on %s: %v", k, dst, err)
			}
		}
		os.Chtimes(dst, time.Time{}, n.ModTime)
	}
}

// TestApkToolsAuditsProvisionedRoot lets apk-tools 3 itself judge a whole
// provisioned root: `apk audit --system` (and, as root,
// --check-permissions) must find every package file as the database says.
// It runs only when ROOTFS_SYNTH_APK names an apk binary (apk-tools is not
// packaged for the CI's Debian).
func TestApkToolsAuditsProvisionedRoot(t *testing.T) {
	apkBin := os.Getenv("ROOTFS_SYNTH_APK")
	if apkBin == "" {
		t.Skip("set ROOTFS_SYNTH_APK to an apk-tools 3 binary to have it audit a provisioned root")
	}
	_, res := provisionBase(t)
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	extract(t, res.Tree, root)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(apkBin, append([]string{"--root", root, "--repositories-file", "/dev/null",
			"--allow-untrusted", "--no-cache", "--no-interactive", "--no-network"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("apk %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Logf("apk info:\n%s", run("info"))
	if out := run("audit", "--system"); out != "" {
		t.Errorf("apk audit --system on a provisioned root =\n%s\nwant nothing", out)
	}
	if os.Geteuid() == 0 {
		// procfs is not mounted here, so no "m proc/" either.
		if out := run("audit", "--system", "--check-permissions"); out != "" {
			t.Errorf("apk audit --system --check-permissions on a provisioned root =\n%s\nwant nothing", out)
		}
	}
	// /etc: the account files scripts changed after their package put
	// them there, as on any Alpine system, and /etc/apk, which apk-tools
	// (not installed here) would own.
	if out := run("audit"); out != "U etc/group\nD etc/apk/\nU etc/shadow\nU etc/passwd\n" {
		t.Errorf("apk audit =\n%s\nwant the three account files and etc/apk/", out)
	}
}
