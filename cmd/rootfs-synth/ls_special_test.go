//go:build linux

package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestLsCatSpecialFiles: ls and cat given a FIFO nobody writes, a
// character device (/dev/zero) or a directory as the image refuse it at
// once, in one line naming it, instead of hanging in open(2) or reading
// "0 bytes". The control: the same commands on a real image work.
func TestLsCatSpecialFiles(t *testing.T) {
	img, _ := lsImage(t, ext4img.Options{Time: lsTime, NoJournal: true})
	dir := testenv.WorldDir(t)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ image, want string }{
		{fifo, "is a FIFO"},
		{"/dev/zero", "is a character device"},
		{dir, "is a directory"},
		{img, ""},
	} {
		for _, args := range [][]string{{"ls", tt.image}, {"cat", tt.image, "/etc/os-release"}} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			u := testenv.Unprivileged(t, testenv.Binary(t), args...)
			cmd := exec.CommandContext(ctx, u.Path, u.Args[1:]...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			timedOut := ctx.Err() != nil
			cancel()
			if timedOut {
				t.Errorf("rootfs-synth %s still ran after 10s", strings.Join(args, " "))
				continue
			}
			code := exitCode(t, err)
			if tt.want == "" {
				if code != 0 || stdout.Len() == 0 {
					t.Errorf("rootfs-synth %s = exit %d, %d bytes out; want exit 0 and output\nstderr: %s", strings.Join(args, " "), code, stdout.Len(), stderr.String())
				}
				continue
			}
			want := `rootfs-synth: ` + args[0] + `: ` + strconv.Quote(tt.image) + `: ` + tt.want + `, not an image`
			if code != 1 || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), want) {
				t.Errorf("rootfs-synth %s = exit %d, stdout %q, stderr %q; want exit 1 and one line containing %q",
					strings.Join(args, " "), code, stdout.String(), stderr.String(), want)
			}
		}
	}
}
