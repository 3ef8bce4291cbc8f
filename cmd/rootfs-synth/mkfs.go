package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/hosttree"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// mkfsCommand is `rootfs-synth mkfs SRC_DIR -o IMG`: an ext4 image of a host
// directory, like `mke2fs -t ext4 -d SRC_DIR` but right-sized, rootless and
// reproducible. now is the build's wall-clock time (see filesystemTime).
func mkfsCommand(now time.Time) *cli.Command {
	return &cli.Command{
		Name:      "mkfs",
		Usage:     "write an ext4 image from a host directory",
		ArgsUsage: "SRC_DIR",
		Description: "Copies SRC_DIR (not following symlinks) with its owners, modes, mtimes, xattrs,\n" +
			"hard links and device nodes into a new ext4 image. Without --size the image is\n" +
			"the smallest that fits plus headroom. SOURCE_DATE_EPOCH (seconds) stamps the\n" +
			"filesystem and caps newer mtimes; without it the newest mtime in the tree is used,\n" +
			"but never a time after the build started, so the same tree always gives the same\n" +
			"image.\n\n" +
			"The image is written to a hidden temporary file beside IMG and renamed at the end;\n" +
			"an error (exit status 1) or SIGINT, SIGTERM or SIGHUP (130, 143, 129) leaves\n" +
			"neither. IMG must be a regular file or not exist: a device node, directory or\n" +
			"symlink is refused.\n\n" +
			"Warnings (stderr, once per kind): files with an mtime after the build started\n" +
			"(kept, but the filesystem's time is capped at the start, else e2fsck would want to\n" +
			"fix the superblock); and, when run as a user other than root, entries owned by\n" +
			"other users: their trusted.* xattrs, if any, are invisible to this user and are\n" +
			"not copied.",
		Flags:  mkfsFlags(),
		Action: func(c *cli.Context) error { return runMkfs(c, now) },
	}
}

func mkfsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "image `FILE` to write (replaced atomically; a device, directory or symlink is refused)"},
		&cli.StringFlag{Name: "size", Usage: "image size in bytes, or with K, M, G or T (powers of 1024); default: fit the tree"},
		&cli.BoolFlag{Name: "no-journal", Usage: "leave out the jbd2 journal"},
		&cli.IntFlag{Name: "journal-blocks", Usage: "journal size in blocks (default: mke2fs's rule)"},
		&cli.IntFlag{Name: "block-size", Value: 4096, Usage: "block size: 1024 or 4096"},
		&cli.StringFlag{Name: "owner", Usage: "give every file this `UID:GID` (default: keep the host's)"},
		&cli.Int64Flag{Name: "headroom-blocks", Usage: "free blocks to add when right-sizing (0: default, negative: none)"},
		&cli.Int64Flag{Name: "headroom-inodes", Usage: "free inodes to add when right-sizing (0: default, negative: none)"},
		&cli.StringFlag{Name: "uuid", Usage: "filesystem `UUID` (default: derived from the tree)"},
		&cli.StringFlag{Name: "hash-seed", Usage: "directory hash seed `UUID` (default: derived from the tree)"},
		&cli.StringFlag{Name: "label", Usage: "volume label (at most 16 bytes)"},
	}
}

func runMkfs(c *cli.Context, now time.Time) error {
	if c.NArg() != 1 {
		return usageError("mkfs: need exactly one SRC_DIR")
	}
	src, out := c.Args().First(), c.String("output")
	if out == "" {
		return usageError("mkfs: --output is empty")
	}
	opts := ext4img.Options{
		BlockSize:      c.Int("block-size"),
		NoJournal:      c.Bool("no-journal"),
		JournalBlocks:  c.Int("journal-blocks"),
		HeadroomBlocks: c.Int64("headroom-blocks"),
		HeadroomInodes: c.Int64("headroom-inodes"),
		Label:          c.String("label"),
	}
	var err error
	if s := c.String("size"); s != "" {
		if opts.Size, err = parseSize(s); err != nil {
			return usageError("parsing --size: %v", err)
		}
	}
	if s := c.String("uuid"); s != "" {
		if opts.UUID, err = parseUUID(s); err != nil {
			return usageError("parsing --uuid: %v", err)
		}
	}
	if s := c.String("hash-seed"); s != "" {
		if opts.HashSeed, err = parseUUID(s); err != nil {
			return usageError("parsing --hash-seed: %v", err)
		}
	}
	tree := hosttree.Options{UID: os.Geteuid()}
	if s := c.String("owner"); s != "" {
		owner, err := parseOwner(s)
		if err != nil {
			return usageError("parsing --owner: %v", err)
		}
		tree.Owner = &owner
	}
	epoch, err := sourceDateEpoch() // as the build reads it: empty is unset
	if err != nil {
		return err
	}
	if !epoch.IsZero() {
		tree.Clamp = epoch
		opts.Time = tree.Clamp
	}
	// Before the walk, which takes a while: a mistyped -o or option costs
	// nothing.
	if err := imagefile.Check(out); err != nil {
		return err
	}
	if err := opts.Check(); err != nil {
		return usageError("%v", err) // every option Check refuses is a flag's
	}
	// Like mke2fs -d, follow SRC_DIR itself when it is a symlink.
	if resolved, err := filepath.EvalSymlinks(src); err == nil {
		src = resolved
	}
	if fi, err := os.Stat(src); err != nil {
		return fmt.Errorf("reading source: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("reading source: %s is not a directory", src)
	}

	ctx := c.Context
	dir, err := hosttree.Open(src)
	if err != nil {
		return err
	}
	defer dir.Close()
	tree.Now = now.Truncate(time.Second)
	w, t, err := hosttree.NewWriter(ctx, dir, tree, opts)
	if err != nil {
		return stopped(ctx, out, err)
	}
	warn := &warnings{w: c.App.ErrWriter}
	w.SetTime(filesystemTime(t, opts.Time, tree.Now, warn))
	warnTrusted(t, tree.UID, warn)
	layout, err := writeImage(ctx, src, w, out)
	if err != nil {
		return stopped(ctx, out, err)
	}
	warnClamped(layout, warn)
	fmt.Fprintf(c.App.Writer, "%s: %d entries, %d blocks of %d bytes (%.1f MiB), %d blocks and %d inodes free\n",
		out, t.Entries, layout.Blocks, layout.BlockSize, float64(layout.Size())/(1<<20),
		layout.FreeBlocks, layout.FreeInodes)
	return nil
}

// stopped is err, or when ctx was cancelled (a signal), one line saying
// so and that nothing was written.
func stopped(ctx context.Context, out string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("mkfs: stopped (%v); %s not written", context.Cause(ctx), out)
	}
	return err
}

// writeImage lays out and writes w's image of src to out, as the build
// does (see imagefile.Write).
func writeImage(ctx context.Context, src string, w *ext4img.Writer, out string) (*ext4img.Layout, error) {
	layout, err := w.Layout()
	if err != nil {
		return nil, fmt.Errorf("copying %s: %w", src, err)
	}
	if err := imagefile.Write(ctx, out, imagefile.Options{}, w.Write); err != nil {
		return nil, fmt.Errorf("copying %s: %w", src, err)
	}
	return layout, nil
}

// parseSize reads "123", "512K", "512M", "2G", "1T" (powers of 1024; an
// optional "iB" or "B" suffix is allowed).
func parseSize(s string) (int64, error) {
	num := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	shift := 0
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift > 0 {
			num = num[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size like 512M, 2G or a number of bytes", s)
	}
	return v << shift, nil
}

// parseOwner reads "UID:GID".
func parseOwner(s string) ([2]uint32, error) {
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return [2]uint32{}, fmt.Errorf("%q is not UID:GID", s)
	}
	return [2]uint32{uint32(uid), uint32(gid)}, nil
}

// parseUUID reads 32 hex digits, with or without the usual dashes.
func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		return u, errors.New(strconv.Quote(s) + " is not a UUID")
	}
	copy(u[:], b)
	return u, nil
}
