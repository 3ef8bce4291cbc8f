package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
	"github.com/urfave/cli/v2"
)

// lsCommand is `rootfs-synth ls IMAGE [PATH]`.
func lsCommand() *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list files in an ext4 image without mounting it, like ls -lan",
		ArgsUsage: "IMAGE [PATH]",
		Description: "Prints one line per entry: mode, links, uid, gid, size (or major, minor\n" +
			"for a device), mtime in UTC, name, and -> target for a symlink. PATH (default /)\n" +
			"is a path inside the image; a directory lists its entries, anything else\n" +
			"itself. Symlinks in PATH are followed inside the image, a final one is not.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "list subdirectories recursively"},
		},
		OnUsageError: usageExit("ls"),
		Action:       ls,
	}
}

func ls(cCtx *cli.Context) error {
	if n := cCtx.NArg(); n < 1 || n > 2 {
		return cli.Exit("ls: need IMAGE [PATH] (e.g. rootfs-synth ls alpine.ext4 /etc)", 2)
	}
	image, name := cCtx.Args().Get(0), cCtx.Args().Get(1)
	fsys, closeImage, err := openImage(cCtx.Context, image)
	if err != nil {
		return fmt.Errorf("ls: %w", err)
	}
	defer closeImage()
	w := bufio.NewWriter(cCtx.App.Writer)
	// Like ls, a trailing slash follows a final symlink to a directory.
	follow := strings.HasSuffix(name, "/") && name != "/"
	if err := list(w, fsys, name, follow, cCtx.Bool("recursive")); err != nil {
		return fmt.Errorf("ls: %s in %s: %w", shownPath(name), image, err)
	}
	return w.Flush()
}

// list writes the listing of name: its entries when it is a directory
// (and with recursive, every directory below, each under a "PATH:"
// heading), else its own line. A final symlink is followed only with
// follow.
func list(w io.Writer, fsys *ext4fs.FS, name string, follow, recursive bool) error {
	in, err := fsys.Resolve(name, follow)
	if err != nil {
		return err
	}
	if !in.Mode.IsDir() {
		return writeLines(w, []*ext4fs.Inode{in}, []string{shownPath(name)})
	}
	seen := map[uint32]string{} // directory inodes listed, against loops in a corrupt image
	first := true
	var walk func(dir string, in *ext4fs.Inode) error
	walk = func(dir string, in *ext4fs.Inode) error {
		if prev, ok := seen[in.Ino]; ok {
			return fmt.Errorf("%w: directory inode %d appears at %q and %q", ext4fs.ErrCorrupt, in.Ino, prev, dir)
		}
		seen[in.Ino] = dir
		ents, err := fsys.ReadDirInode(in)
		if err != nil {
			return err
		}
		if recursive {
			if !first {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s:\n", quoteName(dir))
		}
		first = false
		inodes := make([]*ext4fs.Inode, len(ents))
		names := make([]string, len(ents))
		for i, e := range ents {
			fi, err := e.Info()
			if err != nil {
				return err
			}
			inodes[i], names[i] = fi.Sys().(*ext4fs.Inode), e.Name()
		}
		if err := writeLines(w, inodes, names); err != nil {
			return err
		}
		if !recursive {
			return nil
		}
		for i, in := range inodes {
			if in.Mode.IsDir() {
				if err := walk(path.Join(dir, names[i]), in); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(shownPath(name), in)
}

// writeLines writes one ls -lan line per entry, columns aligned.
func writeLines(w io.Writer, inodes []*ext4fs.Inode, names []string) error {
	rows := make([][5]string, len(inodes))
	var width [5]int
	for i, in := range inodes {
		size := strconv.FormatInt(in.Size, 10)
		if in.Mode&fs.ModeDevice != 0 {
			size = fmt.Sprintf("%d, %d", in.Devmajor, in.Devminor)
		}
		rows[i] = [5]string{modeString(in.Mode), strconv.Itoa(int(in.Nlink)), strconv.Itoa(int(in.UID)), strconv.Itoa(int(in.GID)), size}
		for c, s := range rows[i] {
			width[c] = max(width[c], len(s))
		}
	}
	for i, in := range inodes {
		r := rows[i]
		line := fmt.Sprintf("%s %*s %*s %*s %*s %s %s", r[0], width[1], r[1], width[2], r[2], width[3], r[3], width[4], r[4],
			in.ModTime.UTC().Format("2006-01-02 15:04"), quoteName(names[i]))
		if in.Mode&fs.ModeSymlink != 0 {
			line += " -> " + quoteName(in.Linkname)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// modeString is ls's ten-character mode: type, then rwx for user, group
// and other with s/S for setuid and setgid and t/T for sticky.
func modeString(m fs.FileMode) string {
	b := []byte("----------")
	switch m.Type() {
	case fs.ModeDir:
		b[0] = 'd'
	case fs.ModeSymlink:
		b[0] = 'l'
	case fs.ModeDevice | fs.ModeCharDevice:
		b[0] = 'c'
	case fs.ModeDevice:
		b[0] = 'b'
	case fs.ModeNamedPipe:
		b[0] = 'p'
	case fs.ModeSocket:
		b[0] = 's'
	}
	for i, c := range "rwxrwxrwx" {
		if m&(1<<(8-i)) != 0 {
			b[1+i] = byte(c)
		}
	}
	special := func(pos int, set bool, lower byte) {
		if !set {
			return
		}
		if b[pos] == 'x' {
			b[pos] = lower
		} else {
			b[pos] = lower - 'a' + 'A'
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's')
	special(6, m&fs.ModeSetgid != 0, 's')
	special(9, m&fs.ModeSticky != 0, 't')
	return string(b)
}

// quoteName prints a name as it is unless it holds a control character,
// invalid UTF-8 or a quote, which would garble or split the line; then it
// is Go-quoted.
func quoteName(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r == unicode.ReplacementChar || r == '"' || !unicode.IsPrint(r) && r != ' ' }) {
		return strconv.Quote(s)
	}
	return s
}

// shownPath is a path inside the image as messages show it: absolute,
// without repeated slashes, otherwise as the user gave it.
func shownPath(p string) string {
	parts := strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
	return "/" + strings.Join(parts, "/")
}

// usageExit makes a flag error exit with status 2, the usage status,
// in one line naming the command.
func usageExit(command string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		return cli.Exit(fmt.Sprintf("%s: %v (see rootfs-synth %s --help)", command, err, command), 2)
	}
}

// openImage opens an ext4 image for reading: a regular file (compressed
// with zstd or xz or not) or a block device. It is opened without blocking (a FIFO would otherwise wait for
// a writer) and anything else is refused before a byte is read.
func openImage(ctx context.Context, image string) (*ext4fs.FS, func(), error) {
	f, err := openNonblocking(image)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	size := st.Size()
	switch m := st.Mode(); {
	case m.IsRegular():
		if format := imagefile.SniffCompression(f); format != "" {
			return openCompressedImage(ctx, image, f, format)
		}
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		// A block device's size is where its end is.
		if size, err = f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("reading %q: %w", image, err)
		}
	default:
		f.Close()
		return nil, nil, fmt.Errorf("%q: is %s, not an image", image, unixmode.Kind(m))
	}
	fsys, err := ext4fs.Open(f, size)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("reading %s: %w", image, err)
	}
	return fsys, func() { f.Close() }, nil
}
