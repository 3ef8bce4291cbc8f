package provision

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// oldFiles makes dir/name for each name, last changed hours ago.
func oldFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	old := time.Now().Add(-3 * time.Hour)
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

// TestSweepTempsNotThroughSymlink (issue 12, defect 2): a store whose tmp
// is a symlink to another directory leaves that directory as it was, even
// its old files named like the store's temporaries.
func TestSweepTempsNotThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.Mkdir(victim, 0o700); err != nil {
		t.Fatal(err)
	}
	names := []string{"data-1", "put-2", "thesis.tex"}
	oldFiles(t, victim, names...)
	s := newStore(filepath.Join(dir, "store"))
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, s.tempDir()); err != nil {
		t.Fatal(err)
	}
	s.sweepTemps(time.Now())
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(victim, n)); err != nil {
			t.Errorf("sweepTemps with tmp a symlink to %s removed %s: %v", victim, n, err)
		}
	}
}

// TestSweepTempsRemovesStale: the sweep still removes the store's own
// temporaries older than an hour, and nothing else.
func TestSweepTempsRemovesStale(t *testing.T) {
	dir := t.TempDir()
	s := newStore(filepath.Join(dir, "store"))
	if err := os.MkdirAll(s.tempDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	oldFiles(t, s.tempDir(), "data-123", "put-456", "notes", "put-x", "data-")
	if err := os.WriteFile(filepath.Join(s.tempDir(), "data-789"), nil, 0o600); err != nil { // a concurrent run's
		t.Fatal(err)
	}
	oldFiles(t, dir, "elsewhere")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(s.tempDir(), "data-5")); err != nil {
		t.Fatal(err)
	}
	s.sweepTemps(time.Now())
	for name, want := range map[string]bool{
		"data-123": false, "put-456": false,
		"data-789": true, "notes": true, "put-x": true, "data-": true, "data-5": true, "../../elsewhere": true,
	} {
		_, err := os.Lstat(filepath.Join(s.tempDir(), name))
		if got := err == nil; got != want {
			t.Errorf("after sweepTemps, %s exists = %v, want %v", name, got, want)
		}
	}
}
