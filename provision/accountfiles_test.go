package provision

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

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
