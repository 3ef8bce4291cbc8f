package imagefile_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestWriteFull: when the disk fills up (RLIMIT_FSIZE makes every
// write past 1 MiB fail with EFBIG, as ENOSPC would), Write fails
// naming the cause and leaves nothing, for plain and compressed targets.
// The test runs itself again under prlimit; the inner run does the write.
func TestWriteFull(t *testing.T) {
	if target := os.Getenv("ROOTFS_SYNTH_TEST_WRITE_TO"); target != "" {
		if err := imagefile.Write(context.Background(), target, imagefile.Options{}, smallImage(t, nil).Write); err != nil {
			fmt.Fprintf(os.Stderr, "Write: %v\n", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	prlimit := testenv.Tool(t, "prlimit")
	for _, name := range []string{"img.ext4", "img.ext4.zst"} {
		dir := t.TempDir()
		cmd := exec.Command(prlimit, "--fsize=1048576", os.Args[0], "-test.run=^TestWriteFull$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ROOTFS_SYNTH_TEST_WRITE_TO="+filepath.Join(dir, name))
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(out), "file too large") {
			t.Errorf("Write(%s) on a full disk: %v, output %q; want exit 3 and \"file too large\"", name, err, out)
		}
		if got := dirNames(t, dir); len(got) > 0 {
			t.Errorf("Write(%s) on a full disk left %q", name, got)
		}
	}
}
