package ext4check

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// Fsck checks img with `e2fsck -fn` (exit 0: no problem found) and then runs
// `e2fsck -fy` on a sparse copy, which must change nothing (see e2fsckRun): -n
// alone skips some checks, such as a missing /lost+found or a zero UUID. The
// error quotes what e2fsck said.
func Fsck(tb testing.TB, img string) error {
	tb.Helper()
	e2fsck := testenv.Tool(tb, "e2fsck")
	if out, err := e2fsckRun(e2fsck, "-fn", img); err != nil {
		return fmt.Errorf("e2fsck -fn %s: %w\n%s", img, err, out)
	}
	cp := filepath.Join(tb.TempDir(), "fsck-copy.img")
	defer os.Remove(cp)
	if err := copySparse(cp, img); err != nil {
		return fmt.Errorf("copying %s: %w", img, err)
	}
	if out, err := e2fsckRun(e2fsck, "-fy", cp); err != nil {
		return fmt.Errorf("e2fsck -fy on a copy of %s changed it: %w\n%s", img, err, out)
	}
	return nil
}

// FsckInPlace is Fsck for a throwaway image too big to copy cheaply (a
// multi-GiB test file): `e2fsck -fy` runs on img itself, so img is only
// trustworthy afterwards when the error is nil (nothing changed).
func FsckInPlace(tb testing.TB, img string) error {
	tb.Helper()
	e2fsck := testenv.Tool(tb, "e2fsck")
	if out, err := e2fsckRun(e2fsck, "-fn", img); err != nil {
		return fmt.Errorf("e2fsck -fn %s: %w\n%s", img, err, out)
	}
	if out, err := e2fsckRun(e2fsck, "-fy", img); err != nil {
		return fmt.Errorf("e2fsck -fy changed %s: %w\n%s", img, err, out)
	}
	return nil
}

// e2fsckRun runs e2fsck with flag on img. Exit 0 is not enough: e2fsck -fy
// exits 0 after some repairs (restoring the superblock's journal backup,
// for one), but then says so.
func e2fsckRun(e2fsck, flag, img string) (string, error) {
	c := exec.Command(e2fsck, flag, img)
	c.Env = append(os.Environ(), "LC_ALL=C")
	out, err := c.CombinedOutput()
	if err == nil && bytes.Contains(out, []byte("FILE SYSTEM WAS MODIFIED")) {
		err = errors.New("exit status 0, but the file system was modified")
	}
	if err == nil {
		return "", nil
	}
	var keep []string
	for line := range strings.Lines(string(out)) {
		if !strings.HasPrefix(line, "Pass ") && !strings.HasPrefix(line, "e2fsck 1.") {
			keep = append(keep, "    "+line)
		}
		if len(keep) == 40 {
			keep = append(keep, "    ...\n")
			break
		}
	}
	return strings.Join(keep, ""), err
}

// copySparse copies src to dst, leaving holes where src has holes (found
// with SEEK_DATA/SEEK_HOLE where the OS has them) and 64 KiB runs of zeros.
func copySparse(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	size := fi.Size()
	buf := make([]byte, 64<<10)
	for off := int64(0); off < size; {
		start, end := off, size
		if runtime.GOOS != "linux" {
			// whence 3 and 4 mean other things elsewhere (swapped on macOS)
		} else if d, err := in.Seek(off, seekData); err == nil {
			start = d
			if h, err := in.Seek(d, seekHole); err == nil {
				end = h
			}
		} else if errors.Is(err, syscall.ENXIO) {
			break // only a hole remains
		}
		if err := copyRun(out, in, buf, start, end); err != nil {
			out.Close()
			return err
		}
		off = end
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

const seekData, seekHole = 3, 4 // lseek whence values on Linux

// copyRun copies [start, end) of in to the same offsets of out, skipping
// all-zero chunks.
func copyRun(out, in *os.File, buf []byte, start, end int64) error {
	for off := start; off < end; {
		n := int64(len(buf))
		if end-off < n {
			n = end - off
		}
		b := buf[:n]
		if _, err := in.ReadAt(b, off); err != nil {
			return err
		}
		if !allZero(b) {
			if _, err := out.WriteAt(b, off); err != nil {
				return err
			}
		}
		off += n
	}
	return nil
}

var zeros = make([]byte, 64<<10)

func allZero(b []byte) bool { return bytes.Equal(b, zeros[:len(b)]) }
