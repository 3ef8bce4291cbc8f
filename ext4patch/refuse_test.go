//go:build linux

package ext4patch

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// debugfsW runs debugfs -w with one request on img.
func debugfsW(t *testing.T, img, req string) {
	t.Helper()
	if out, err := exec.Command(testenv.Tool(t, "debugfs"), "-w", "-R", req, img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs -w -R %q: %v\n%s", req, err, out)
	}
}

func digest(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestRefusals opens images the patcher must not change: each Open (or
// the Put) fails with one line naming why, and the image stays byte for
// byte as it was.
func TestRefusals(t *testing.T) {
	mke2fs, writer, noJournal := kinds[4], kinds[0], writerKind("nojournal", 4096, true, true)
	// dirtyJournal crashes a patch right after its commit point: the
	// journal then needs recovery, as a running guest's does.
	dirtyJournal := func(t *testing.T, img string) {
		orig, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		full := &crashFile{b: bytes.Clone(orig), budget: -1}
		im, err := open(full, img, int64(len(orig)), Options{Time: patchTime})
		if err != nil {
			t.Fatal(err)
		}
		if err := sandboxPatch(im, nil); err != nil || im.Commit() != nil {
			t.Fatal("patch failed")
		}
		// The commit point is the journal superblock's write before the
		// checkpoint: find the last budget that leaves the journal dirty.
		for budget := full.writes; budget > 0; budget-- {
			cf := &crashFile{b: bytes.Clone(orig), budget: budget}
			im, _ := open(cf, img, int64(len(orig)), Options{Time: patchTime})
			sandboxPatch(im, nil)
			im.Commit()
			if _, err := open(&crashFile{b: bytes.Clone(cf.b), budget: -1}, img, int64(len(orig)), Options{}); err != nil && strings.Contains(err.Error(), "needs recovery") {
				if err := os.WriteFile(img, cf.b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatal("no crash point leaves the journal dirty")
	}
	for _, tt := range []struct {
		name  string
		kind  imageKind
		setup func(t *testing.T, img string)
		put   string // Put this path instead of only opening
		want  string
	}{
		{"inline_data", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature inline_data") }, "", "inline_data"},
		{"encrypt", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature encrypt") }, "", "encrypt"},
		{"casefold", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature casefold") }, "", "casefold"},
		{"bigalloc", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature bigalloc") }, "", "bigalloc"},
		{"meta_bg", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature meta_bg") }, "", "meta_bg"},
		{"mmp", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature mmp") }, "", "mmp"},
		{"sparse_super2", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature sparse_super2") }, "", "sparse_super2"},
		{"fast_commit", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature fast_commit") }, "", "fast_commit"},
		{"quota", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature quota") }, "", "quota"},
		{"orphan_present", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature orphan_present") }, "", "orphan"},
		{"last_orphan", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "ssv last_orphan 12") }, "", "orphan"},
		{"error state", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "ssv state 3") }, "", "errors"},
		{"error count", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "ssv error_count 1") }, "", "errors"},
		{"needs_recovery flag", mke2fs, func(t *testing.T, img string) { debugfsW(t, img, "feature needs_recovery") }, "", "needs recovery"},
		{"dirty journal, ext4img", writer, dirtyJournal, "", "needs recovery"},
		{"dirty journal, mke2fs", mke2fs, dirtyJournal, "", "needs recovery"},
		{"no journal", noJournal, nil, "", "no journal"},
		{"symlink out of the image", writer, nil, "/var/out/x", "leads out of the image"},
		{"path with ..", writer, nil, "/etc/../x", `".."`},
		{"through a file", writer, nil, "/etc/passwd/x", "not a directory"},
		{"onto a device", writer, nil, "/var/null", "device"},
		{"onto a directory", writer, nil, "/etc", "directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := tt.kind.make(t, t.TempDir())
			if tt.setup != nil {
				tt.setup(t, img)
			}
			before := digest(t, img)
			im, err := Open(img, Options{})
			if err == nil && tt.put != "" {
				err = im.Put(tt.put, strings.NewReader("x"), 0o644, 0, 0, patchTime)
				if cerr := im.Commit(); cerr != nil {
					t.Fatalf("Commit after a refused Put: %v", cerr)
				}
				im.Close()
			} else if err == nil {
				im.Close()
			}
			switch {
			case err == nil:
				t.Errorf("Open(%s) = nil error, want one naming %q", tt.name, tt.want)
			case !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n"):
				t.Errorf("Open(%s) error = %q, want one line naming %q", tt.name, err, tt.want)
			}
			if digest(t, img) != before {
				t.Errorf("Open(%s) changed the image", tt.name)
			}
		})
	}
}

// TestRefusesNonRegularImages: a directory, a symlink, a FIFO are never
// opened as images.
func TestRefusesNonRegularImages(t *testing.T) {
	dir := t.TempDir()
	img := kinds[0].make(t, dir)
	link := filepath.Join(dir, "link.img")
	fifo := filepath.Join(dir, "fifo.img")
	if err := os.Symlink(img, link); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{dir, "a directory"}, {link, "a symbolic link"}, {fifo, "a FIFO"}, {"/dev/null", "a character device"},
	} {
		_, err := Open(tt.path, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s) error = %v, want one naming %s", tt.path, err, tt.want)
		}
	}
}

// TestLockExcludes: while one Image holds the file, a second Open fails.
func TestLockExcludes(t *testing.T) {
	img := kinds[0].make(t, t.TempDir())
	im, err := Open(img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(img, Options{}); err == nil || !strings.Contains(err.Error(), "lock") {
		t.Errorf("second Open(%s) error = %v, want a lock error", img, err)
	}
	im.Close()
	im, err = Open(img, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	im.Close()
}
