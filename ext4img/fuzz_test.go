package ext4img

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/memfile"
)

// treeFromBytes builds a tree from fuzz input: each byte picks an entry
// kind, the following bytes its parent, name and size. Entries the Writer
// rejects are skipped; the rest must make a valid image.
func treeFromBytes(w *Writer, data []byte) {
	dirs := []string{""}
	var files []string
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	for i := 0; len(data) > 0 && i < 300; i++ {
		kind, parent, arg := next(), dirs[next()%len(dirs)], next()
		name := fmt.Sprintf("%s%d", strings.Repeat("n", arg%7*20), i)
		p := strings.TrimPrefix(parent+"/"+name, "/")
		mt := time.Unix(int64(arg)*1e7-5e8, int64(kind)*1000)
		e := Entry{Path: p, ModTime: mt, UID: uint32(arg) << (kind % 4 * 8), GID: uint32(kind)}
		switch kind % 9 {
		case 0, 1:
			e.Mode = fs.ModeDir | 0o755
		case 2, 3:
			size := arg * 37
			e.Mode, e.Size, e.Content = 0o644, int64(size), bytesContent(bytes.Repeat([]byte{byte(kind)}, size))
		case 4:
			e.Mode, e.Linkname = fs.ModeSymlink|0o777, strings.Repeat("t", 1+arg*3)
		case 5:
			e.Mode, e.Devmajor, e.Devminor = fs.ModeDevice|fs.ModeCharDevice|0o600, uint32(arg), uint32(arg*arg*13)
		case 6:
			e.Mode = fs.ModeNamedPipe | fs.ModeSetgid | 0o640
		case 7:
			if len(files) > 0 {
				w.Link(files[arg%len(files)], p)
			}
			continue
		case 8:
			e.Mode = 0o600 | fs.ModeSticky
			e.Xattrs = map[string][]byte{"user.k": bytes.Repeat([]byte{'v'}, arg*2), "trusted.z": {byte(kind)}}
		}
		if w.Add(e) != nil {
			continue
		}
		if e.Mode.IsDir() {
			dirs = append(dirs, p)
		} else {
			files = append(files, p)
		}
	}
}

func FuzzWriter(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 1, 200, 4, 0, 30, 5, 1, 40, 6, 0, 3, 7, 0, 0, 8, 1, 99}, false, false)
	f.Fuzz(func(t *testing.T, data []byte, small, noJournal bool) {
		opts := Options{NoJournal: noJournal, HeadroomBlocks: 40, HeadroomInodes: 20, Time: time.Unix(1e9, 0), MetadataCsum: len(data)%2 == 1}
		if small {
			opts.BlockSize = 1024
		}
		build := func() ([]byte, *Layout) {
			w := NewWriter(opts)
			treeFromBytes(w, data)
			l, err := w.Layout()
			if err != nil {
				t.Fatalf("Layout: %v", err)
			}
			var m memfile.File
			if err := w.Write(&m); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if int64(len(m.Bytes())) != l.Size() {
				t.Fatalf("Write: image %d bytes, Layout.Size() = %d", len(m.Bytes()), l.Size())
			}
			return m.Bytes(), l
		}
		img, l := build()
		if l.FreeBlocks < 40 || l.FreeBlocks > l.Blocks || l.FreeInodes < 20 || l.FreeInodes > l.Inodes {
			t.Fatalf("Layout: %d/%d free blocks, %d/%d free inodes; want at least 40 and 20", l.FreeBlocks, l.Blocks, l.FreeInodes, l.Inodes)
		}
		if again, _ := build(); !bytes.Equal(img, again) {
			t.Fatalf("two builds differ")
		}
		p := filepath.Join(t.TempDir(), "img")
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
		fsck(t, p)
	})
}
