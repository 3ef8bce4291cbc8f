package vmtest_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/vmtest"
)

// dfScript prints what the guest's df and statfs say is available on /.
const dfScript = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
echo "DF $($B df -B1 / | $B tail -n 1 | $B tr -s ' ' | $B cut -d' ' -f4)"
echo "STATF $($B stat -f -c '%a %S' /)"
$B mount -o remount,ro /
echo "VMTEST-DONE"
echo o > /proc/sysrq-trigger
$B sleep 10
`

// zeros is an io.Reader of n zero bytes (holes in the image).
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), z.n))
	clear(p[:k])
	z.n -= int64(k)
	return k, nil
}

// TestGuestSeesHeadroom: in the booted guest, df and statfs report at
// least DefaultHeadroomBytes available on a default image, and not much
// more: on a small image (the kernel keeps back 2 % of the blocks), on
// one above 800 MiB (it keeps back 4096 blocks, 16 MiB: before the fix the
// guest saw 48 MiB), and on a tree bound by its inode count (groups
// smaller than 32,768 blocks; before, it got a whole group of free space).
func TestGuestSeesHeadroom(t *testing.T) {
	m := machine(t)
	for _, tt := range []struct {
		name       string
		bigFile    int64 // bytes of a zero file
		emptyFiles int
	}{
		{"small", 0, 0},
		{"above-800MiB", 1 << 30, 0},
		{"inode-bound", 0, 40000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img, l := headroomImage(t, m, tt.bigFile, tt.emptyFiles)
			res, err := m.Boot(context.Background(), img, vmtest.Options{Init: "/sbin/init-df", Timeout: 180 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var df, statf string
			for _, line := range strings.Split(res.Guest, "\n") {
				k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
				switch k {
				case "DF":
					df = v
				case "STATF":
					statf = v
				}
			}
			avail, err := strconv.ParseInt(df, 10, 64)
			if err != nil {
				t.Fatalf("guest df -B1 / printed %q: %v\n%s", df, err, res.Guest)
			}
			var blocks, bsize int64
			if _, err := fmt.Sscanf(statf, "%d %d", &blocks, &bsize); err != nil {
				t.Fatalf("guest stat -f printed %q: %v", statf, err)
			}
			const want, slack = ext4img.DefaultHeadroomBytes, 8 << 20
			t.Logf("%d blocks (%d free, %d available by Layout): guest df %d, statfs %d × %d", l.Blocks, l.FreeBlocks, l.AvailableBlocks, avail, blocks, bsize)
			for _, got := range []struct {
				what string
				n    int64
			}{{"df -B1 / available", avail}, {"statfs f_bavail × f_bsize", blocks * bsize}} {
				if got.n < want || got.n > want+slack {
					t.Errorf("guest %s = %d bytes, want %d to %d", got.what, got.n, int64(want), int64(want+slack))
				}
			}
			if got := l.AvailableBlocks * int64(l.BlockSize); got != blocks*bsize {
				t.Errorf("Layout.AvailableBlocks = %d bytes, the guest's statfs %d", got, blocks*bsize)
			}
		})
	}
}

// headroomImage writes a default image with busybox, the df init, an
// optional zero file and empty files.
func headroomImage(t *testing.T, m *vmtest.Machine, bigFile int64, emptyFiles int) (string, *ext4img.Layout) {
	t.Helper()
	var extra []ext4img.Entry
	if bigFile > 0 {
		extra = append(extra, ext4img.Entry{Path: "data/zeros", Mode: 0o644, Size: bigFile,
			Content: func() (io.ReadCloser, error) { return io.NopCloser(&zeros{bigFile}), nil }})
	}
	for i := range emptyFiles {
		extra = append(extra, ext4img.Entry{Path: fmt.Sprintf("data/e%06d", i), Mode: 0o644})
	}
	img, l := busyboxImage(t, m, ext4img.Options{}, "init-df", dfScript, extra...)
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatalf("fresh image: %v", err)
	}
	return img, l
}

// busyboxImage writes an image with opts (Time set) holding /bin/busybox,
// script as /sbin/<init>, empty /sbin, /dev, /proc and /data, and extra.
func busyboxImage(t *testing.T, m *vmtest.Machine, opts ext4img.Options, init, script string, extra ...ext4img.Entry) (string, *ext4img.Layout) {
	t.Helper()
	opts.Time = time.Unix(1700000000, 0)
	w := ext4img.NewWriter(opts)
	add := func(e ext4img.Entry) {
		t.Helper()
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "sbin", "dev", "proc", "data"} {
		add(ext4img.Entry{Path: d, Mode: fs.ModeDir | 0o755})
	}
	bb, err := os.Stat(m.Busybox)
	if err != nil {
		t.Fatal(err)
	}
	add(ext4img.Entry{Path: "bin/busybox", Mode: 0o755, Size: bb.Size(),
		Content: func() (io.ReadCloser, error) { return os.Open(m.Busybox) }})
	add(ext4img.Entry{Path: "sbin/" + init, Mode: 0o755, Size: int64(len(script)),
		Content: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(script)), nil }})
	for _, e := range extra {
		add(e)
	}
	l, err := w.Layout()
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "root.ext4")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	return img, l
}
