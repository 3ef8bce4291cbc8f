//go:build unix

package privdir

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// base returns a directory only root (or the test's user) can write,
// under which the cases build their cache.
func base(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing an owner needs root (CI runs the tests as root)")
	}
}

// TestCheckRoot: CheckRoot(cache) = err, want an error containing want ("" none).
func TestCheckRoot(t *testing.T) {
	for _, tc := range []struct {
		name  string
		root  bool // needs root
		setup func(t *testing.T, b string) string
		want  string
	}{
		{"missing, made 0755", false, func(t *testing.T, b string) string { return filepath.Join(b, "a", "cache") }, ""},
		{"0700", false, func(t *testing.T, b string) string { return mkdir(t, b, "cache", 0o700) }, ""},
		{"0777", false, func(t *testing.T, b string) string { return mkdir(t, b, "cache", 0o777) },
			"cache is writable by every user (mode 0777, owner uid"},
		{"0775", false, func(t *testing.T, b string) string { return mkdir(t, b, "cache", 0o775) }, "is writable by its group (gid"},
		{"sticky 1777 itself", false, func(t *testing.T, b string) string { return mkdir(t, b, "cache", 0o777|os.ModeSticky) }, "(mode 1777,"},
		{"below a 0777 parent", false, func(t *testing.T, b string) string {
			return mkdir(t, mkdir(t, b, "shared", 0o777), "cache", 0o700)
		}, "shared, above the cache directory"},
		{"below a root sticky parent", true, func(t *testing.T, b string) string {
			return mkdir(t, mkdir(t, b, "tmp", 0o777|os.ModeSticky), "cache", 0o700)
		}, ""},
		{"below another user's sticky parent", true, func(t *testing.T, b string) string {
			p := mkdir(t, b, "tmp", 0o777|os.ModeSticky)
			chown(t, p, 65533)
			return mkdir(t, p, "cache", 0o700)
		}, "is owned by uid 65533"},
		{"another user's", true, func(t *testing.T, b string) string {
			p := mkdir(t, b, "cache", 0o755)
			chown(t, p, 65533)
			return p
		}, "cache is owned by uid 65533, not by you"},
		{"a symlink to a private directory", false, func(t *testing.T, b string) string {
			return symlink(t, mkdir(t, b, "real", 0o700), filepath.Join(b, "cache"))
		}, ""},
		{"a symlink to an open directory", false, func(t *testing.T, b string) string {
			return symlink(t, mkdir(t, b, "real", 0o777), filepath.Join(b, "cache"))
		}, "real is writable by every user"},
		{"a symlink to a private directory below an open one", false, func(t *testing.T, b string) string {
			return symlink(t, mkdir(t, mkdir(t, b, "open", 0o777), "real", 0o700), filepath.Join(b, "cache"))
		}, "open, above the cache directory"},
		// Only who may write the directory holding a link can change
		// it, whoever owns the link: the path is resolved once and used
		// resolved from then on.
		{"another user's symlink in a private directory", true, func(t *testing.T, b string) string {
			p := symlink(t, mkdir(t, b, "real", 0o700), filepath.Join(b, "cache"))
			if err := os.Lchown(p, 65533, 65533); err != nil {
				t.Fatal(err)
			}
			return p
		}, ""},
		// The kernel takes ".." after a symlink from the link's target:
		// b/link/../x is open/x, not b/x.
		{"dot dot after a symlink", false, func(t *testing.T, b string) string {
			open := mkdir(t, b, "open", 0o777)
			mkdir(t, open, "x", 0o700)
			mkdir(t, b, "x", 0o700)
			symlink(t, mkdir(t, open, "sub", 0o700), filepath.Join(b, "link"))
			return filepath.Join(b, "link") + "/../x"
		}, "open, above the cache directory"},
		{"two links, the second in an open directory", false, func(t *testing.T, b string) string {
			open := mkdir(t, b, "open", 0o777)
			real := mkdir(t, b, "real", 0o700)
			symlink(t, real, filepath.Join(open, "mid"))
			return symlink(t, filepath.Join(open, "mid"), filepath.Join(b, "cache"))
		}, ""},
		{"a link in the middle of the path to an open directory", false, func(t *testing.T, b string) string {
			open := mkdir(t, b, "open", 0o777)
			mkdir(t, mkdir(t, open, "mid", 0o700), "cache", 0o700)
			symlink(t, filepath.Join(open, "mid"), filepath.Join(b, "dir"))
			return filepath.Join(b, "dir", "cache")
		}, "open, above the cache directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				mustRoot(t)
			}
			b := base(t)
			cache := tc.setup(t, b)
			got, err := CheckRoot(cache)
			want := tc.want
			if err == nil {
				// What was checked is what is used: the real directory.
				if real, rerr := filepath.EvalSymlinks(cache); rerr != nil || got != real {
					t.Errorf("CheckRoot(%s) = %s, want the resolved %s", cache, got, real)
				}
			}
			switch {
			case want == "" && err != nil:
				t.Errorf("CheckRoot(%s) = %v, want nil", cache, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("CheckRoot(%s) = %v, want an error containing %q", cache, err, want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("CheckRoot(%s) = %q, want one line", cache, err)
			}
		})
	}
}

// TestOpen: Open refuses what another user could have changed or what is
// not a regular file, and does not hang on a FIFO.
func TestOpen(t *testing.T) {
	b := base(t)
	root := mkdir(t, b, "cache", 0o755)
	sub := mkdir(t, root, "sub", 0o755)
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(sub, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(sub, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		write("good", 0o644): "",
		write("open", 0o666): "open is writable by every user (mode 0666",
		fifo:                 "is a FIFO, not a regular file",
		symlink(t, "good", filepath.Join(sub, "link")): "is a symlink, not a regular file",
	}
	linked := write("linked", 0o644)
	if err := os.Link(linked, filepath.Join(b, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	cases[linked] = "linked has 2 names (hard links)"
	if os.Geteuid() == 0 {
		p := write("theirs", 0o644)
		chown(t, p, 65533)
		cases[p] = "theirs is owned by uid 65533"
	}
	for p, want := range cases {
		done := make(chan error, 1)
		go func() {
			f, err := Open(root, p)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Open(%s) hangs", p)
		}
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("Open(%s) = %v, want an error containing %q", p, err, want)
		}
	}
	chmodDir(t, sub, 0o777)
	if _, err := Open(root, filepath.Join(sub, "good")); err == nil || !strings.Contains(err.Error(), "sub is writable by every user") {
		t.Errorf("Open in a 0777 directory = %v, want it refused", err)
	}
}

// TestCheckRootUnderSudo: root trusts what belongs to the user who ran
// sudo (SUDO_UID), whose cache `sudo -E` finds, and no one else's.
func TestCheckRootUnderSudo(t *testing.T) {
	mustRoot(t)
	b := base(t)
	cache := mkdir(t, b, "cache", 0o755)
	chown(t, cache, 65533)
	t.Setenv("SUDO_UID", "65533")
	if _, err := CheckRoot(cache); err != nil {
		t.Errorf("CheckRoot(cache of SUDO_UID's) = %v, want nil", err)
	}
	t.Setenv("SUDO_UID", "65532")
	if _, err := CheckRoot(cache); err == nil || !strings.Contains(err.Error(), "owned by uid 65533") {
		t.Errorf("CheckRoot(cache of another user's than SUDO_UID) = %v, want it refused", err)
	}
}

// TestSweepTempsOwnerAndName: only the user's own old temporaries go.
func TestSweepTempsOwnerAndName(t *testing.T) {
	mustRoot(t)
	b := base(t)
	tmp := mkdir(t, b, "tmp", 0o700)
	old := time.Now().Add(-2 * time.Hour)
	for _, n := range []string{"t-1", "t-2", "other"} {
		p := filepath.Join(tmp, n)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if n == "t-2" {
			chown(t, p, 65533)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	SweepTemps(b, "tmp", func(n string) bool { return strings.HasPrefix(n, "t-") }, time.Now().Add(-time.Hour))
	for n, want := range map[string]bool{"t-1": false, "t-2": true, "other": true} {
		_, err := os.Lstat(filepath.Join(tmp, n))
		if got := err == nil; got != want {
			t.Errorf("after SweepTemps, %s exists = %v, want %v", n, got, want)
		}
	}
}

func mkdir(t *testing.T, parent, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	chmodDir(t, p, mode)
	return p
}

func chmodDir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, p string, uid int) {
	t.Helper()
	if err := os.Chown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}
