//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestBuildHealsCorruptStore: a byte flipped in a package's unpacked data
// in the store does not fail the next build (offline: the verified .apk
// is in the cache): the build unpacks that package again and writes the
// same image as before, and the build after it unpacks nothing.
func TestBuildHealsCorruptStore(t *testing.T) {
	m := newMirror(t)
	out := testenv.WorldDir(t)
	build := func(name string, extra ...string) string {
		t.Helper()
		img := filepath.Join(out, name)
		args := append(append(m.trusted(), "--profile", "none", "-p", "app", "-o", img), extra...)
		cmd := m.command(t, nil, args...)
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1700000000")
		if stdout, stderr, code := runCmd(t, cmd); code != 0 {
			t.Fatalf("rootfs-synth %s = exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
		}
		return img
	}
	first := build("first.ext4")

	// app's .data is the one holding usr/bin/app, the biggest.
	store := filepath.Join(m.home, "cache", "rootfs-synth", "unpacked")
	datas, _ := filepath.Glob(filepath.Join(store, "pkgs-v*", "*.data"))
	var data string
	var size int64
	for _, d := range datas {
		if fi, err := os.Stat(d); err == nil && fi.Size() > size {
			data, size = d, fi.Size()
		}
	}
	if data == "" {
		t.Fatalf("no package data in the store %s after a build", store)
	}
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
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
