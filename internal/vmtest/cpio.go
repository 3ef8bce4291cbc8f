package vmtest

import (
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// cpioFile is one member of an initramfs.
type cpioFile struct {
	Name     string // without a leading slash
	Mode     fs.FileMode
	Data     []byte // a regular file's content
	Linkname string // a symlink's target
}

// writeCpio writes files as a "newc" cpio archive, the format the kernel
// unpacks into its initial root (Documentation/driver-api/early-userspace/
// buffer-format.rst), owned by 0:0 with mtime 0.
func writeCpio(w io.Writer, files []cpioFile) error {
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for i, f := range files {
		mode, data := unixmode.Encode(f.Mode), f.Data
		if f.Mode&fs.ModeSymlink != 0 {
			data = []byte(f.Linkname)
		}
		if err := writeCpioMember(w, uint32(i+1), mode, f.Name, data); err != nil {
			return err
		}
	}
	return writeCpioMember(w, 0, 0, "TRAILER!!!", nil)
}

func writeCpioMember(w io.Writer, ino, mode uint32, name string, data []byte) error {
	nlink := 1
	if mode&unixmode.TypeMask == unixmode.Dir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	buf = append(buf, data...)
	buf = pad4(buf)
	_, err := w.Write(buf)
	return err
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
