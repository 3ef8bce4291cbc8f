package provision

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
)

// Regression tests for what a review found.

// TestTamperedStoreFailsImageWrite: stored bytes changed behind the tree's
// back (same size) fail the image write, naming the path; the mismatch
// must survive readers that drop an error coming with a full buffer.
func TestTamperedStoreFailsImageWrite(t *testing.T) {
	f, res := provisionBase(t)
	var victim string
	filepath.WalkDir(f.store, func(p string, d fs.DirEntry, err error) error {
		if b, err := os.ReadFile(p); err == nil && strings.HasSuffix(p, ".data") && bytes.Contains(b, []byte("better svc binary")) {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("stored data not found")
	}
	b, _ := os.ReadFile(victim)
	if err := os.WriteFile(victim, bytes.Replace(b, []byte("better"), []byte("evil!!"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	w := ext4img.NewWriter(ext4img.Options{UUID: res.UUID, HashSeed: res.HashSeed, Time: res.Time})
	if err := res.Tree.AddTo(w); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "img")
	err := w.WriteFile(img, 0o644)
	if err == nil || !strings.Contains(err.Error(), "usr/bin/svc") {
		t.Errorf("writing an image from a tampered store: %v, want an error naming /usr/bin/svc", err)
	}
	if _, statErr := os.Stat(img); statErr == nil {
		t.Error("an image was left behind")
	}
}

// TestAccountsSurviveLaterAccountFiles: users a script made are made again
// when a later package ships /etc/passwd and /etc/group.
func TestAccountsSurviveLaterAccountFiles(t *testing.T) {
	pkgs := []apktest.Pkg{
		{Name: "aaa", Version: "1-r0",
			Scripts: map[string]string{"pre-install": "#!/bin/sh\naddgroup -S aaa 2>/dev/null\nadduser -S -D -H -h /var/empty -s /sbin/nologin -G aaa -g aaa aaa 2>/dev/null\nexit 0\n"},
			Files:   []apktest.File{{Name: "etc/", Mode: fs.ModeDir | 0o755}, {Name: "etc/aaa.conf", Uname: "aaa", Gname: "aaa", Data: []byte("x")}}},
		{Name: "zzz-accounts", Version: "1-r0",
			Files: []apktest.File{{Name: "etc/", Mode: fs.ModeDir | 0o755},
				{Name: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\n")},
				{Name: "etc/group", Data: []byte("root:x:0:root\n")}}},
	}
	f := newFixture(t, pkgs, "aaa", "zzz-accounts")
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	n := node(t, res.Tree, "etc/aaa.conf")
	passwd, group := content(t, res.Tree, "etc/passwd"), content(t, res.Tree, "etc/group")
	if !strings.Contains(passwd, "\naaa:x:100:100:") || !strings.Contains(group, "\naaa:x:100:") || n.UID != 100 || n.GID != 100 {
		t.Errorf("after a later package's account files: /etc/aaa.conf %d:%d,\n/etc/passwd\n%s/etc/group\n%s\nwant user and group aaa (100) kept", n.UID, n.GID, passwd, group)
	}
}

// TestHardLinkOwnerInDatabase: a hard link's database record carries the
// owner its header names, resolved like any other.
func TestHardLinkOwnerInDatabase(t *testing.T) {
	pkgs := []apktest.Pkg{
		{Name: "acc", Version: "1-r0",
			Files: []apktest.File{{Name: "etc/", Mode: fs.ModeDir | 0o755},
				{Name: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\nsvc:x:100:101::/:/sbin/nologin\n")},
				{Name: "etc/group", Data: []byte("root:x:0:root\nsvc:x:101:\n")}}},
		{Name: "svc", Version: "1-r0", Depends: []string{"acc"},
			Files: []apktest.File{{Name: "srv/", Mode: fs.ModeDir | 0o755},
				{Name: "srv/a", Mode: 0o640, Uname: "svc", Gname: "svc", Data: []byte("hello")},
				{Name: "srv/b", Hardlink: "srv/a", Uname: "svc", Gname: "svc"}}},
	}
	f := newFixture(t, pkgs, "svc")
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range readInstalled(t, res.Tree.FS()) {
		for _, d := range ip.Dirs {
			for _, file := range d.Files {
				if p := path.Join(d.Name, file.Name); strings.HasPrefix(p, "srv/") {
					if file.ACL == nil || file.ACL.UID != 100 || file.ACL.GID != 101 {
						t.Errorf("db record of /%s: acl %+v, want owner 100:101", p, file.ACL)
					}
				}
			}
		}
	}
}
