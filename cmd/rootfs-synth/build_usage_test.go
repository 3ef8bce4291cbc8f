//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestBuildUsageErrors: a build asked for in a way that cannot work is a
// usage error (exit 2) named on one line, before anything is fetched or
// created.
func TestBuildUsageErrors(t *testing.T) {
	m := newMirror(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"argument", []string{"build"}, `unexpected argument "build"`},
		{"output and image name", []string{"-o", "x.ext4", "--image-name", "y.ext4"}, "not both"},
		{"image name with a directory", []string{"--image-name", "images/y.ext4"}, `--image-name "images/y.ext4"`},
		{"hostname", []string{"--hostname", "bad host"}, `--hostname "bad host"`},
		{"branch", []string{"--branch", "v3.23/main"}, `--branch "v3.23/main"`},
		{"no such profile", []string{"--profile", "nosuch"}, `--profile "nosuch": no such profile`},
		{"lock and packages", []string{"--lock", "r.json", "-p", "git"}, "--lock builds exactly the locked packages"},
		// The whole sentences, as the command said them before the build
		// moved into package build (issue 13: behaviour unchanged).
		{"nothing to install", []string{"--profile", "none"}, "rootfs-synth: nothing to install: --profile none and no --packages"},
		{"no repository", []string{"--profile", "none", "-p", "app", "--mirror", "none"}, "rootfs-synth: --mirror none and no --repository: no repository to install from"},
		{"report is the image", []string{"--profile", "none", "-p", "app", "-o", "x.ext4", "--report", "x.ext4"}, `--report "x.ext4" is the image (`},
		{"packages all separators", []string{"--profile", "none", "-p", " , "}, "flag -p: empty value"},
		{"size", []string{"--profile", "none", "-p", "app", "--size", "12Q"}, "parsing --size"},
		{"malformed atom", []string{"--profile", "none", "-p", "musl>>=1"}, `"musl>>=1"`},
		{"folded operator in a list", []string{"--profile", "none", "-p", "app,base=>1"}, `"base=>1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(m.keyFlags(), tt.args...)
			cmd := m.command(t, nil, args...)
			cmd.Dir = testenv.WorldDir(t)
			_, stderr, code := runCmd(t, cmd)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("rootfs-synth %s = exit %d, stderr %q; want exit 2 and one line containing %q",
					strings.Join(tt.args, " "), code, stderr, tt.want)
			}
			if ents, _ := os.ReadDir(cmd.Dir); len(ents) > 0 {
				t.Errorf("rootfs-synth %s created %d files in the working directory", strings.Join(tt.args, " "), len(ents))
			}
		})
	}
	if _, err := os.Stat(filepath.Join(m.home, ".sbx")); err == nil {
		t.Errorf("a usage error created %s/.sbx", m.home)
	}
}

// TestImageNameDefaultDir: without -o the image goes to
// ~/.sbx/images/NAME, whose directories are created and owned by the
// user who runs the build.
func TestImageNameDefaultDir(t *testing.T) {
	m := newMirror(t)
	args := append(m.trusted(), "--profile", "none", "-p", "app", "--image-name", "test.ext4")
	_, stderr, code := runCmd(t, m.command(t, nil, args...))
	dir := filepath.Join(m.home, ".sbx", "images")
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("rootfs-synth --image-name test.ext4 (exit %d): %v\nstderr: %s", code, err, stderr)
	}
	wantUID := uint32(os.Geteuid())
	if wantUID == 0 {
		wantUID = testenv.NobodyUID
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != wantUID || !st.IsDir() {
		t.Errorf("%s: directory %v owned by %d, want a directory owned by the builder, %d", dir, st.IsDir(), uid, wantUID)
	}
	if code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "test.ext4")); err != nil {
		t.Error(err)
	}
}

// TestLibraryFieldsSaidAsFlags: where package build's sentences name its
// Options fields, the command says the flag a person types.
func TestLibraryFieldsSaidAsFlags(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	lock := filepath.Join(dir, "lock.json")
	if err := os.WriteFile(lock, []byte(`{"arch":"x86_64","world":["app"],"packages":[{"name":"app","version":"0.9-r0"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(m.trusted(), "--arch", "aarch64", "--lock", lock, "--offline", "-o", filepath.Join(dir, "x.ext4"))
	_, stderr, code := runCmd(t, m.command(t, nil, args...))
	checkFailure(t, args, stderr, code, "it is for x86_64, --arch says aarch64")
	if strings.Contains(stderr, "Options.") {
		t.Errorf("rootfs-synth %s: stderr %q names a library field", strings.Join(args, " "), stderr)
	}
}
