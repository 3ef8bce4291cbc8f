package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// minirootfsEntries builds the tree of the official
// alpine-minirootfs-3.20.3 tarball from its `tar -tv` listing in the
// shared test data (518 entries: modes, owners, mtimes, the busybox
// links); files present in the shared data keep their real content, the
// others get pattern bytes of the listed size.
func minirootfsEntries(t *testing.T) []ext4img.Entry {
	t.Helper()
	dir := filepath.Join(testenv.SharedTestdata(t), "minirootfs-3.20.3")
	listing, err := os.ReadFile(filepath.Join(dir, "tar-listing.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []ext4img.Entry
	sc := bufio.NewScanner(bytes.NewReader(listing))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			t.Fatalf("tar listing line %q", sc.Text())
		}
		mode, owner, sizeStr, p := f[0], f[1], f[2], f[5]
		var uid, gid uint32
		if _, err := fmt.Sscanf(owner, "%d/%d", &uid, &gid); err != nil {
			t.Fatalf("tar listing owner %q: %v", owner, err)
		}
		mtime, err := time.Parse("2006-01-02 15:04", f[3]+" "+f[4])
		if err != nil {
			t.Fatal(err)
		}
		size, _ := strconv.ParseInt(sizeStr, 10, 64)
		e := ext4img.Entry{Path: strings.TrimSuffix(strings.TrimPrefix(p, "./"), "/"), UID: uid, GID: gid, ModTime: mtime}
		e.Mode = permFromString(t, mode)
		switch mode[0] {
		case 'd':
			e.Mode |= fs.ModeDir
		case 'l':
			e.Mode |= fs.ModeSymlink
			e.Linkname = f[7]
		case '-':
			data, err := os.ReadFile(filepath.Join(dir, e.Path))
			if err != nil {
				data = bytes.Repeat([]byte{byte(len(e.Path))}, int(size))
			}
			e.Size = int64(len(data))
			e.Content = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		default:
			t.Fatalf("tar listing type %q", mode)
		}
		entries = append(entries, e)
	}
	return entries
}

// permFromString parses the permission part of an ls mode string.
func permFromString(t *testing.T, s string) fs.FileMode {
	var m fs.FileMode
	for i, c := range s[1:10] {
		switch c {
		case 'r', 'w', 'x':
			m |= 1 << (8 - i)
		case 's', 't':
			m |= 1 << (8 - i)
			fallthrough
		case 'S', 'T':
			m |= map[int]fs.FileMode{2: fs.ModeSetuid, 5: fs.ModeSetgid, 8: fs.ModeSticky}[i]
		}
	}
	return m
}

// TestLsCatMinirootfs: on an image of Alpine's real minirootfs layout,
// ls -R agrees with debugfs for every path and cat returns the real
// /etc/os-release, also through Alpine's absolute busybox links.
func TestLsCatMinirootfs(t *testing.T) {
	entries := minirootfsEntries(t)
	w := ext4img.NewWriter(ext4img.Options{Time: time.Unix(1725622440, 0)})
	for _, e := range entries {
		if err := w.Add(e); err != nil {
			t.Fatalf("Add(%q): %v", e.Path, err)
		}
	}
	img := filepath.Join(t.TempDir(), "alpine.ext4")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	checkLsR(t, img)
	want, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "minirootfs-3.20.3", "etc", "os-release"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := runApp("cat", img, "/etc/os-release"); err != nil || got != string(want) {
		t.Errorf("cat /etc/os-release = %q, %v; want %q", got, err, want)
	}
	var busybox string
	for _, e := range entries {
		if e.Path == "bin/busybox" {
			rc, _ := e.Content()
			b, _ := io.ReadAll(rc)
			busybox = string(b)
		}
	}
	if got, err := runApp("cat", img, "/usr/../sbin/../bin/sh"); err != nil || got != busybox || busybox == "" {
		t.Errorf("cat /bin/sh = %d bytes, %v; want /bin/busybox's %d bytes", len(got), err, len(busybox))
	}
}
