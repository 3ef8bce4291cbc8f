//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestInitStarter: `init FILE` writes a starter build file that names
// every key, refuses to write over it the second time (the file kept),
// and the starter, pointed at the test mirror by flags, builds.
func TestInitStarter(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	file := filepath.Join(dir, "rootfs-synth.yaml")
	initRun := func() (int, string) {
		var stderr bytes.Buffer
		code := run(context.Background(), newApp(time.Unix(1700000000, 0)), []string{"init", file}, &stderr)
		return code, stderr.String()
	}
	if code, stderr := initRun(); code != 0 {
		t.Fatalf("rootfs-synth init = exit %d: %s", code, stderr)
	}
	starter, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range configKeys {
		found := false
		for _, l := range strings.Split(string(starter), "\n") {
			l = strings.TrimSpace(strings.TrimPrefix(l, "#"))
			found = found || strings.HasPrefix(l, k.key+":")
		}
		if !found {
			t.Errorf("the starter does not show the key %q:\n%s", k.key, starter)
		}
	}
	must(t, os.WriteFile(file, append(starter, "# mine\n"...), 0o644))
	if code, stderr := initRun(); code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "exists: not replacing it") {
		t.Errorf("rootfs-synth init over a file = exit %d, stderr %q; want exit 1 and one line saying it exists", code, stderr)
	}
	if got, _ := os.ReadFile(file); !bytes.HasSuffix(got, []byte("# mine\n")) {
		t.Errorf("init over a file changed it")
	}
	out := filepath.Join(dir, "img.ext4")
	args := []string{"--config", file, "--mirror", m.srv.URL, "--keys-dir", m.keys, "--arch", "x86_64", "--profile", "none", "-p", "extra", "-o", out}
	if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Errorf("the starter's build wrote %v, %v; want an image", st, err)
	}
}
