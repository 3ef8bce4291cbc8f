package apk

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSweepStaleTemps (issue 12, defect 2): the sweep of the packages
// directory removes only writeFileAtomic's old temporaries, and nothing
// at all through a symlink put in the directory's place.
func TestSweepStaleTemps(t *testing.T) {
	old := time.Now().Add(-3 * time.Hour)
	write := func(dir string, names ...string) {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("own", func(t *testing.T) {
		pkgs := filepath.Join(t.TempDir(), "packages")
		if err := os.Mkdir(pkgs, 0o755); err != nil {
			t.Fatal(err)
		}
		write(pkgs, ".busybox-1.0-r0.aa.apk.tmp123", "busybox-1.0-r0.aa.apk", ".hidden", ".x.tmpy")
		if err := os.WriteFile(filepath.Join(pkgs, ".musl-1.apk.tmp9"), nil, 0o600); err != nil { // a concurrent run's
			t.Fatal(err)
		}
		sweepStaleTemps(pkgs, time.Now())
		for name, want := range map[string]bool{
			".busybox-1.0-r0.aa.apk.tmp123": false,
			"busybox-1.0-r0.aa.apk":         true, ".hidden": true, ".x.tmpy": true, ".musl-1.apk.tmp9": true,
		} {
			_, err := os.Lstat(filepath.Join(pkgs, name))
			if got := err == nil; got != want {
				t.Errorf("after sweepStaleTemps, %s exists = %v, want %v", name, got, want)
			}
		}
	})
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		victim := filepath.Join(dir, "victim")
		if err := os.Mkdir(victim, 0o755); err != nil {
			t.Fatal(err)
		}
		names := []string{".report.txt.tmp1", "thesis.tex"}
		write(victim, names...)
		if err := os.Symlink(victim, filepath.Join(dir, "packages")); err != nil {
			t.Fatal(err)
		}
		sweepStaleTemps(filepath.Join(dir, "packages"), time.Now())
		for _, n := range names {
			if _, err := os.Lstat(filepath.Join(victim, n)); err != nil {
				t.Errorf("sweepStaleTemps with packages a symlink to %s removed %s: %v", victim, n, err)
			}
		}
	})
}
