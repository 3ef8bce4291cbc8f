package main

import (
	"bufio"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// catCommand is `rootfs-synth cat IMAGE PATH`.
func catCommand() *cli.Command {
	return &cli.Command{
		Name:      "cat",
		Usage:     "write a file of an ext4 image to stdout, without mounting it",
		ArgsUsage: "IMAGE PATH",
		Description: "PATH is a path inside the image. Symlinks are followed inside the image as\n" +
			"the kernel would (an absolute target starts at the image's root), at most 40.\n" +
			"Only regular files have content: a directory or device is an error.",
		OnUsageError: usageExit("cat"),
		Action:       cat,
	}
}

func cat(cCtx *cli.Context) error {
	if cCtx.NArg() != 2 {
		return cli.Exit("cat: need IMAGE PATH (e.g. rootfs-synth cat alpine.ext4 /etc/os-release)", 2)
	}
	image, name := cCtx.Args().Get(0), cCtx.Args().Get(1)
	fsys, closeImage, err := openImage(cCtx.Context, image)
	if err != nil {
		return fmt.Errorf("cat: %w", err)
	}
	defer closeImage()
	fail := func(err error) error {
		return fmt.Errorf("cat: %s in %s: %w", shownPath(name), image, err)
	}
	in, err := fsys.Resolve(name, true)
	if err != nil {
		return fail(err)
	}
	if !in.Mode.IsRegular() {
		return fail(fmt.Errorf("is %s, not a regular file", unixmode.Kind(in.Mode)))
	}
	r, err := fsys.OpenInode(in)
	if err != nil {
		return fail(err)
	}
	w := bufio.NewWriterSize(cCtx.App.Writer, 1<<16)
	if _, err := io.Copy(w, r); err != nil {
		return fail(err)
	}
	return w.Flush()
}
