// Package e2fsck judges ext4 images with e2fsprogs' e2fsck, for tests: an
// image passes when `e2fsck -fn` finds no problem and `e2fsck -fy` on a
// sparse copy changes nothing. It depends on nothing of ours, so the
// writer's own tests (package ext4img) and the checker built on it
// (internal/ext4check) judge with the same code.
//
// Left out on purpose: reading the image back (internal/ext4check does that
// with debugfs) and judging anything but the exit status, the "FILE SYSTEM
// WAS MODIFIED" notice and the bytes e2fsck would write.
package e2fsck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// Check runs `e2fsck -fn` on img, which must exit 0, then `e2fsck -fy` on a
// sparse copy, which must exit 0 without modifying it: byte for byte the
// same apart from the superblock's last-write and last-check times and its
// checksum. -n alone skips some checks, such as a missing /lost+found or a
// zero UUID. The error quotes what e2fsck said.
func Check(tb testing.TB, img string) error {
	tb.Helper()
	e2fsck := testenv.Tool(tb, "e2fsck")
	if out, err := run(e2fsck, "-fn", img); err != nil {
		return fmt.Errorf("e2fsck -fn %s: %w\n%s", img, err, out)
	}
	cp := filepath.Join(tb.TempDir(), "fsck-copy.img")
	defer os.Remove(cp)
	if err := CopySparse(cp, img); err != nil {
		return fmt.Errorf("copying %s: %w", img, err)
	}
	if out, err := run(e2fsck, "-fy", cp); err != nil {
		return fmt.Errorf("e2fsck -fy on a copy of %s changed it: %w\n%s", img, err, out)
	}
	diff, err := Diff(img, cp)
	if err != nil {
		return fmt.Errorf("comparing %s with its e2fsck -fy copy: %w", img, err)
	}
	if diff != "" {
		return fmt.Errorf("e2fsck -fy on a copy of %s exited 0 but changed it: %s", img, diff)
	}
	return nil
}

// CheckInPlace is Check for a throwaway image too big to copy cheaply (a
// multi-GiB test file): `e2fsck -fy` runs on img itself, so img is only
// trustworthy afterwards when the error is nil, and only e2fsck's own
// account says whether it changed anything.
func CheckInPlace(tb testing.TB, img string) error {
	tb.Helper()
	e2fsck := testenv.Tool(tb, "e2fsck")
	if out, err := run(e2fsck, "-fn", img); err != nil {
		return fmt.Errorf("e2fsck -fn %s: %w\n%s", img, err, out)
	}
	if out, err := run(e2fsck, "-fy", img); err != nil {
		return fmt.Errorf("e2fsck -fy changed %s: %w\n%s", img, err, out)
	}
	return nil
}

// run runs e2fsck with flag on img. Exit 0 is not enough: e2fsck -fy exits
// 0 after some repairs (restoring the superblock's journal backup, for
// one), but then says so.
func run(e2fsck, flag, img string) (string, error) {
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
