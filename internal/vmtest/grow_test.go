package vmtest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/ext4patch"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/internal/vmtest"
)

// growScript prints the size df reports for /, then fills 100 MiB (more
// than the image's free space before a grow) and checks it landed.
const growScript = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
echo "DFSIZE $($B df -B1 / | $B tail -n 1 | $B tr -s ' ' | $B cut -d' ' -f2)"
$B dd if=/dev/zero of=/data/fill bs=1048576 count=100 2>/dev/null && $B sync && echo "FILLED $($B stat -c %s /data/fill)"
$B rm -f /data/fill
$B mount -o remount,ro /
echo "VMTEST-DONE"
echo o > /proc/sysrq-trigger
$B sleep 10
`

// TestGuestSeesGrownSize grows a default image with 1 KiB blocks (so its
// reserved GDT blocks are used) and metadata_csum eight times with
// ext4patch, no resize2fs anywhere: the guest's df reports the new size
// and the guest can fill space the image did not have; the grown image is
// e2fsck-clean before the boot and after the guest's poweroff. Negative control: the same image not grown
// reports its old size and cannot hold the fill.
func TestGuestSeesGrownSize(t *testing.T) {
	m := machine(t)
	// A default right-sized image with 1 KiB blocks and metadata_csum.
	base, _ := busyboxImage(t, m, ext4img.Options{BlockSize: 1024, MetadataCsum: true}, "init-grow", growScript)
	st, err := os.Stat(base)
	if err != nil {
		t.Fatal(err)
	}
	newSize := 8 * st.Size()
	grown := filepath.Join(t.TempDir(), "grown.ext4")
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(grown, b, 0o644); err != nil {
		t.Fatal(err)
	}
	im, err := ext4patch.Open(grown, ext4patch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Grow(newSize); err != nil {
		t.Fatal(err)
	}
	if err := im.Commit(); err != nil {
		t.Fatal(err)
	}
	im.Close()
	grownCopy := filepath.Join(t.TempDir(), "grown-before-boot.ext4")
	if out, err := exec.Command("cp", "--sparse=always", grown, grownCopy).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}

	boot := func(img string) (dfSize int64, filled bool) {
		t.Helper()
		res, err := m.Boot(context.Background(), img, vmtest.Options{Init: "/sbin/init-grow", Timeout: 300 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		lines := guestLines(res.Guest)
		n, err := strconv.ParseInt(lines["DFSIZE"], 10, 64)
		if err != nil {
			t.Fatalf("guest df printed %q: %v\n%s", lines["DFSIZE"], err, res.Guest)
		}
		return n, lines["FILLED"] == "104857600"
	}
	// The guest's df leaves out the metadata (bitmaps, inode tables,
	// journal): a few percent.
	wantMin := newSize * 9 / 10
	size, filled := boot(grown)
	t.Logf("grown to %d bytes: guest df size %d, filled %v", newSize, size, filled)
	if size < wantMin || size > newSize || !filled {
		t.Errorf("grown image: guest df size %d, want %d to %d; 100 MiB written: %v, want true", size, wantMin, newSize, filled)
	}
	// e2fsck -fn, not e2fsck.Check: after a guest created and removed a
	// file, e2fsck -fy lowers group 0's bg_itable_unused that the kernel
	// left higher, on a metadata_csum image grown or not (measured on the
	// negative control): the kernel's bookkeeping, not an error.
	c := exec.Command(testenv.Tool(t, "e2fsck"), "-fn", grown)
	if out, err := c.CombinedOutput(); err != nil {
		t.Errorf("grown image after the guest: e2fsck -fn: %v\n%s", err, out)
	}
	if err := e2fsck.Check(t, grownCopy); err != nil {
		t.Errorf("grown image before the guest: %v", err)
	}
	size, filled = boot(base)
	t.Logf("negative control, not grown (%d bytes): guest df size %d, filled %v", st.Size(), size, filled)
	if size >= wantMin || filled {
		t.Errorf("the image not grown passes the check (df size %d, filled %v): the test cannot fail", size, filled)
	}
}
