//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestUserFileLimits: every file a build reads into memory from a flag
// (--authorized-keys, --profile, --lock) is refused in one line, exit 1,
// within seconds, when it is not a regular file (/dev/zero, a FIFO nobody
// writes) or larger than its cap, instead of reading without end or
// hanging. The binary runs under an address-space limit so that a reader
// without a cap fails instead of eating the machine's memory. The control:
// a small regular file of each kind gets past the check.
func TestUserFileLimits(t *testing.T) {
	m := newMirror(t)
	dir := testenv.WorldDir(t)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	big := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if err := f.Chmod(0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flags := []struct {
		flag      string
		cap       int64
		capString string
		fine      string // a small file that passes the check
		rest      []string
	}{
		{"--authorized-keys", 1 << 20, "1 MiB", small("keys", "ssh-ed25519 AAAA test\n"), []string{"--profile", "none", "-p", "app"}},
		{"--profile", 1 << 20, "1 MiB", small("profile", "app\n"), nil},
		{"--lock", 4 << 20, "4 MiB", small("lock.json", `{"arch":"x86_64","world":["app"],"packages":[{"name":"app","version":"0.9-r0","checksum":"Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`), nil},
	}
	for _, f := range flags {
		for _, tt := range []struct{ name, file, want string }{
			{"dev zero", "/dev/zero", `"/dev/zero": not a regular file`},
			{"fifo", fifo, `: not a regular file`},
			{"too large", big(strings.TrimLeft(f.flag, "-")+".big", f.cap+1), ": larger than " + f.capString},
			{"control", f.fine, ""},
		} {
			t.Run(f.flag+" "+tt.name, func(t *testing.T) {
				args := append(append(m.keyFlags(), "--mirror", "http://127.0.0.1:1", "-o", filepath.Join(dir, "img.ext4"), f.flag, tt.file), f.rest...)
				wrap := []string{testenv.Tool(t, "prlimit"), "--as=" + "4294967296"}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := m.command(t, wrap, args...)
				cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
				cmd.Env = append(os.Environ(), "HOME="+m.home, "XDG_CACHE_HOME="+filepath.Join(m.home, "cache"))
				start := time.Now()
				_, stderr, code := runCmd(t, cmd)
				if ctx.Err() != nil {
					t.Fatalf("rootfs-synth %s %s still ran after %v", f.flag, tt.file, time.Since(start).Round(time.Second))
				}
				if tt.want == "" {
					if strings.Contains(stderr, "regular file") || strings.Contains(stderr, "larger than") {
						t.Errorf("rootfs-synth %s %s (a small regular file): stderr %q, want it past the file check", f.flag, tt.file, stderr)
					}
					return
				}
				checkFailure(t, args, stderr, code, f.flag+" ")
				if !strings.Contains(stderr, tt.want) {
					t.Errorf("rootfs-synth %s %s: stderr %q, want it to contain %q", f.flag, tt.file, stderr, tt.want)
				}
			})
		}
	}
}
