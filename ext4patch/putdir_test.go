//go:build linux

package ext4patch

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// TestPutDir: a directory made with a mode and owner (missing parents
// root's 0755), an existing one's mode and owner changed with its entries
// and mtime kept, and a file put into a 0700 directory, each judged by
// e2fsck and read back by debugfs against the model, on an image of
// ext4img's and one of mke2fs's. Something not a directory at the name is
// refused (the negative control of the mode change).
func TestPutDir(t *testing.T) {
	mt := time.Date(2025, 5, 4, 3, 2, 1, 0, time.UTC)
	for _, k := range []imageKind{kinds[0], kinds[4]} {
		t.Run(k.name, func(t *testing.T) {
			img, im, md := openWithModel(t, k)
			for _, tt := range []struct {
				path     string
				mode     fs.FileMode
				uid, gid int
			}{
				{"/root/.ssh", 0o700, 0, 0},                        // new, under an existing parent
				{"/home/user/.ssh", 0o700, 1000, 1000},             // new, with a new parent
				{"/etc/sbx", fs.ModeDir | 0o750, 0, 42},            // existing: mode and owner change
				{"/tmp", fs.ModeDir | fs.ModeSticky | 0o777, 0, 0}, // new, sticky
			} {
				if err := im.PutDir(tt.path, tt.mode, tt.uid, tt.gid, mt); err != nil {
					t.Fatalf("PutDir(%s, %v) = %v", tt.path, tt.mode, err)
				}
				md.putDir(tt.path, tt.mode, uint32(tt.uid), uint32(tt.gid), mt)
			}
			key := "ssh-ed25519 AAAA key\n"
			if err := im.Put("/root/.ssh/authorized_keys", strings.NewReader(key), 0o600, 0, 0, mt); err != nil {
				t.Fatal(err)
			}
			md.put("/root/.ssh/authorized_keys", []byte(key), 0o600, 0, 0, mt)
			if err := im.PutDir("/etc/hostname", 0o700, 0, 0, mt); err == nil || !strings.Contains(err.Error(), "not a directory") {
				t.Errorf("PutDir(/etc/hostname) = %v, want an error saying it is not a directory", err)
			}
			if err := im.Commit(); err != nil {
				t.Fatal(err)
			}
			checkImage(t, img, md.manifest(), k)
		})
	}
}

// putDir is Image.PutDir on the model.
func (md *model) putDir(p string, mode fs.FileMode, uid, gid uint32, mtime time.Time) {
	perm := unixmode.EncodePerm(mode)
	if n := md.m[p]; n != nil {
		n.Perm, n.UID, n.GID = perm, uid, gid
		return
	}
	md.put(p+"/x", nil, 0, 0, 0, mtime) // p and its parents, as Put makes them
	delete(md.m, p+"/x")
	delete(md.id, p+"/x")
	n := md.m[p] // empty: its mtime is its own
	n.Perm, n.UID, n.GID, n.Mtime, n.MtimeNsec = perm, uid, gid, mtime.Unix(), int64(mtime.Nanosecond())
}
