//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestBuildHealsCorruptStore: a byte flipped in a package's unpacked data
// in the store does not fail the next build (offline: the verified .apk
// is in the cache): the build unpacks that package again and writes the
// same image as before, and the build after it unpacks nothing. The
// content is found changed either as the image is written (a program) or
// while the tree is provisioned (/etc/passwd, read for owners by name).
func TestBuildHealsCorruptStore(t *testing.T) {
	passwd := apktest.Pkg{Name: "accounts", Version: "1-r0", Files: []apktest.File{
		{Name: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\nsvc:x:100:101:svc:/var/empty:/sbin/nologin\n")},
		{Name: "etc/group", Data: []byte("root:x:0:root\nsvc:x:101:svc\n")},
		{Name: "srv/data", Data: []byte("owned\n"), Uname: "svc", Gname: "svc"},
	}}
	for _, tt := range []struct {
		name, world string
		holds       []byte // what the corrupted .data holds
	}{
		{"read as the image is written", "app", []byte("#!/bin/sh\n#!/bin/sh")},
		{"read while provisioning", "accounts", []byte("svc:x:100:101")},
	} {
		t.Run(tt.name, func(t *testing.T) { testBuildHealsCorruptStore(t, newMirror(t, passwd), tt.world, tt.holds) })
	}
}

func testBuildHealsCorruptStore(t *testing.T, m *mirror, world string, holds []byte) {
	out := testenv.WorldDir(t)
	build := func(name string, extra ...string) string {
		t.Helper()
		img := filepath.Join(out, name)
		args := append(append(m.trusted(), "--profile", "none", "-p", world, "-o", img), extra...)
		cmd := m.command(t, nil, args...)
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1700000000")
		if stdout, stderr, code := runCmd(t, cmd); code != 0 {
			t.Fatalf("rootfs-synth %s = exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
		}
		return img
	}
	first := build("first.ext4")

	store := filepath.Join(m.home, "cache", "rootfs-synth", "unpacked")
	datas, _ := filepath.Glob(filepath.Join(store, "pkgs-v*", "*.data"))
	var data string
	var b []byte
	for _, d := range datas {
		if got, err := os.ReadFile(d); err == nil && bytes.Contains(got, holds) {
			data, b = d, got
		}
	}
	if data == "" {
		t.Fatalf("no package data holding %q in the store %s after a build", holds, store)
	}
	i := bytes.Index(b, holds)
	b[i+len(holds)-1] ^= 0x20
	if err := os.WriteFile(data, b, 0o600); err != nil { // keeps the file's owner
		t.Fatal(err)
	}

	second := build("second.ext4", "--offline")
	inode := func() uint64 {
		t.Helper()
		fi, err := os.Stat(data)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	healed := inode()
	if got, _ := os.ReadFile(data); bytes.Equal(got, b) {
		t.Errorf("%s still holds the flipped byte after the second build", data)
	}
	third := build("third.ext4", "--offline")
	if inode() != healed {
		t.Errorf("the third build unpacked %s again, want the healed store used as it is", data)
	}
	want, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{second, third} {
		if got, err := os.ReadFile(img); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s, the image before the store was changed (%v)", img, first, err)
		}
	}
}
