package testenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/hostfs"
)

// HostTreeTime is the mtime HostTree gives /etc/hostname, and (plus one
// hour per byte of the path) /, /etc and /usr/bin.
var HostTreeTime = time.Date(2021, 6, 7, 8, 9, 10, 123456789, time.UTC)

// HostTree writes, as directory dir (which must not exist), a host tree
// with every kind of entry this user may make, for tests that copy a host
// tree into an image and compare:
//
//	/etc/hostname          "vm\n", 0644, user.note=hello, mtime HostTreeTime
//	/etc/apk/world         user.big: 800 bytes
//	/usr/bin/busybox       1,300,000 bytes, 04755; /usr/bin/su a hard link
//	/usr/bin/sh            fast symlink to /usr/bin/busybox; sh-link a hard link
//	/usr/bin/slow          slow symlink (40 × "../" then usr/bin/busybox)
//	/tmp 01777, /var 02755, /var/fifo (a FIFO) and its hard link fifo-link
//	/empty 0444 and a UTF-8 name
//
// and only as root (as in CI): /dev/null (1:3), /dev/vda (block 254:0),
// /etc/apk owned by 4000000000:4000000001, /usr/bin/sh by 100:101, and a
// security.capability on /usr/bin/busybox.
func HostTree(t testing.TB, dir string) {
	t.Helper()
	root := os.Geteuid() == 0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := func(rel string) string { return filepath.Join(dir, rel) }
	must(os.MkdirAll(p("etc/apk"), 0o755))
	must(os.MkdirAll(p("usr/bin"), 0o755))
	must(os.WriteFile(p("etc/hostname"), []byte("vm\n"), 0o644))
	must(os.WriteFile(p("etc/apk/world"), []byte("alpine-base\n"), 0o644))
	must(os.WriteFile(p("usr/bin/busybox"), bytes.Repeat([]byte("\x7fELF busybox "), 100000), 0o755))
	must(os.Chmod(p("usr/bin/busybox"), 0o755|os.ModeSetuid))
	must(os.Link(p("usr/bin/busybox"), p("usr/bin/su")))
	must(os.Symlink("/usr/bin/busybox", p("usr/bin/sh")))
	must(os.Symlink(strings.Repeat("../", 40)+"usr/bin/busybox", p("usr/bin/slow")))
	must(os.Mkdir(p("tmp"), 0o755))
	must(os.Chmod(p("tmp"), 0o777|os.ModeSticky))
	must(os.Mkdir(p("var"), 0o755))
	must(os.Chmod(p("var"), 0o755|os.ModeSetgid))
	must(syscall.Mkfifo(p("var/fifo"), 0o644))
	must(os.Link(p("var/fifo"), p("var/fifo-link")))
	must(os.Link(p("usr/bin/sh"), p("usr/bin/sh-link")))
	must(os.WriteFile(p("empty"), nil, 0o444))
	must(os.WriteFile(p("ünïcødé-名前"), []byte("x"), 0o644))
	must(hostfs.SetXattr(p("etc/hostname"), "user.note", []byte("hello")))
	must(hostfs.SetXattr(p("etc/apk/world"), "user.big", bytes.Repeat([]byte{0, 1, 2, 0xff}, 200)))
	if root {
		must(os.Mkdir(p("dev"), 0o755))
		must(syscall.Mknod(p("dev/null"), syscall.S_IFCHR|0o666, 1<<8|3))
		must(syscall.Mknod(p("dev/vda"), syscall.S_IFBLK|0o660, 254<<8|0))
		must(os.Lchown(p("etc/apk"), 4000000000, 4000000001))
		must(os.Lchown(p("usr/bin/sh"), 100, 101))
		must(hostfs.SetXattr(p("usr/bin/busybox"), "security.capability",
			[]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}))
	}
	must(os.Chtimes(p("etc/hostname"), HostTreeTime, HostTreeTime))
	for _, rel := range []string{"", "etc", "usr/bin"} { // after their contents
		must(os.Chtimes(p(rel), HostTreeTime, HostTreeTime.Add(time.Duration(len(rel))*time.Hour)))
	}
}

// FlatTree makes dirs directories of perDir files below src
// (dirNNNN/file-NNNN.so), two directories at a time; every hundredth file
// holds its directory's name, the others are empty.
func FlatTree(t testing.TB, src string, dirs, perDir int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, dirs)
	for d := range dirs {
		dir := filepath.Join(src, fmt.Sprintf("dir%04d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for f := range perDir {
				var data []byte
				if f%100 == 0 {
					data = []byte(dir)
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%04d.so", f)), data, 0o644); err != nil {
					errs <- err
					return
				}
			}
		})
		if d%2 == 1 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
