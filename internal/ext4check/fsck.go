package ext4check

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// Fsck checks img with `e2fsck -fn` (exit 0: no problem found) and then runs
// `e2fsck -fy` on a sparse copy, which must change nothing (exit 0): -n
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

func e2fsckRun(e2fsck, flag, img string) (string, error) {
	c := exec.Command(e2fsck, flag, img)
	c.Env = append(os.Environ(), "LC_ALL=C")
	out, err := c.CombinedOutput()
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

// copySparse copies src to dst, leaving 64 KiB runs of zeros as holes.
func copySparse(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	var size int64
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 {
			if bytes.Equal(buf[:n], zero[:n]) {
				_, werr := out.Seek(int64(n), io.SeekCurrent)
				err = werr
			} else if _, werr := out.Write(buf[:n]); werr != nil {
				err = werr
			}
			size += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			out.Close()
			return err
		}
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
