package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
)

// buildFlags are the flags of `rootfs-synth [flags]`: the shell builder's,
// then ours.
func buildFlags() []cli.Flag {
	flags := append(selectionFlags(),
		&cli.BoolFlag{
			Name: "no-shrink",
			Usage: fmt.Sprintf("do not right-size the image: keep %d GiB of free blocks and %d free inodes "+
				"(holes in the sparse file, so no disk space); default: the tree plus %d MiB and %d inodes",
				build.NoShrinkHeadroomBytes>>30, build.NoShrinkHeadroomInodes, ext4img.DefaultHeadroomBytes>>20, ext4img.DefaultHeadroomInodes),
		},
		&cli.StringFlag{
			Name:  "image-name",
			Usage: "image file `NAME` under ~/.sbx/images (the directory is created)",
			Value: build.DefaultImageName,
		},
		&cli.StringFlag{
			Name:    "output",
			Aliases: []string{"o"},
			Usage: "image `FILE` to write instead of ~/.sbx/images/NAME, replaced atomically; " +
				"a name ending in .zst or .xz writes a compressed image: prefer .zst, about as small and " +
				"tens of times faster (.xz takes minutes for a large image, even on several cores)",
		},
		&cli.GenericFlag{
			Name:  "files",
			Value: &lineList{},
			Usage: "overlay the files of `DIR` on the image (repeatable, in order, after the built-in sandbox files)",
		},
		&cli.StringFlag{Name: "size", Usage: "image `SIZE` in bytes, or with K, M, G or T (powers of 1024); default: fit the tree"},
		&cli.BoolFlag{Name: "no-journal", Usage: "leave out the ext4 journal"},
		&cli.StringFlag{Name: "report", Usage: "write the JSON build report to `FILE` (usable as --lock later; - for stdout, the summary then on stderr)"},
		&cli.BoolFlag{Name: "json", Usage: "print a JSON summary for machines on stdout instead of the summary for people"},
		&cli.StringFlag{Name: "sbom", Usage: "write the image's SPDX 2.3 JSON bill of materials to `FILE`"},
		&cli.StringFlag{Name: "authorized-keys", Usage: "install `FILE` as /root/.ssh/authorized_keys"},
		&cli.StringFlag{Name: "hostname", Usage: "write `NAME` to /etc/hostname"},
		&cli.BoolFlag{Name: "strict", Usage: "fail when a package script or trigger could not be reproduced statically"},
		&cli.GenericFlag{
			Name:  "guest-repository",
			Value: &lineList{},
			Usage: "a line of the image's /etc/apk/repositories (`URL`, or '@tag URL'; repeatable; none: an empty file); " +
				"default: the official mirror's <branch>/main and community, and a line for each @tag the world pins",
		},
		&cli.BoolFlag{Name: "dry-run", Usage: "print what would be installed and why (rootfs-synth plan) instead of building"},
		&cli.BoolFlag{Name: "no-deferred-scripts", Usage: "leave out the package scripts that could not be reproduced, instead of running them at the guest's first boot"},
		configFlag(), // config.go
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print errors only"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log every package and step"},
	)
	return flags
}

// runBuild is the action of `rootfs-synth [flags]`: the flags as
// build.Options, build.Run, and what a person sees of it.
func runBuild(cCtx *cli.Context) error {
	if cCtx.NArg() > 0 {
		arg := cCtx.Args().First()
		if c := closest(arg, visibleCommandNames(cCtx.App.Commands)); c != "" {
			return usageError("unexpected argument %q: did you mean the command %s?", arg, c)
		}
		return usageError("unexpected argument %q: the build takes flags only (commands: %s)",
			arg, strings.Join(commandNames(cCtx.App), ", "))
	}
	if cCtx.Bool("dry-run") {
		return runPlan(cCtx)
	}
	ctx := cCtx.Context // canceled by a signal (main's interruptContext)
	origins, err := applyConfig(cCtx, cCtx.App.Flags)
	if err != nil {
		return err
	}
	u := newUI(cCtx.App.ErrWriter, cCtx.Bool("quiet"), cCtx.Bool("verbose"))
	u.report = cCtx.String("report")
	opts, err := buildOptions(cCtx)
	if err != nil {
		return origins.rename(flagError(err, cCtx.String("lock")))
	}
	opts.Progress, opts.Logger = u.event, u.logger()
	res, err := build.Run(ctx, opts)
	u.close()
	if cause := context.Cause(ctx); cause != nil && err != nil {
		return fmt.Errorf("%w; no image written", cause)
	}
	if err != nil {
		return origins.rename(flagError(err, cCtx.String("lock")))
	}
	return u.results(cCtx, res.Report)
}

// oneLine makes err print as one line: an errors.Join (the indexes of
// several repositories failing at once) puts each error on a line of its
// own, and a person reading a terminal or a CI log wants the one line
// that says what went wrong.
func oneLine(err error) error {
	if err == nil || !strings.Contains(err.Error(), "\n") {
		return err
	}
	return oneLineError{err}
}

type oneLineError struct{ err error }

// Error joins the lines, trimmed: after a line ending in ":" (the
// solver's "unable to select packages:") with a space, otherwise with "; ".
func (e oneLineError) Error() string {
	var b strings.Builder
	for _, l := range strings.Split(e.err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}
func (e oneLineError) Unwrap() error { return e.err }

func commandNames(app *cli.App) []string {
	var names []string
	for _, c := range app.Commands {
		if !c.Hidden && c.Name != "help" {
			names = append(names, c.Name)
		}
	}
	return names
}

// buildOptions are the build.Options of the flags, with the files they
// name read.
func buildOptions(cCtx *cli.Context) (build.Options, error) {
	opts, err := selectionOptions(cCtx)
	if err != nil {
		return opts, err
	}
	opts.Hostname = cCtx.String("hostname")
	opts.Strict = cCtx.Bool("strict")
	opts.SBOM = cCtx.String("sbom")
	if opts.Report = cCtx.String("report"); opts.Report == "-" {
		if cCtx.Bool("json") {
			return opts, usageError("--json and --report - both write to stdout: give the report a FILE")
		}
		opts.Report = "" // written by runBuild, from the result
	}
	opts.NoDeferredScripts = cCtx.Bool("no-deferred-scripts")
	opts.NoJournal = cCtx.Bool("no-journal")
	opts.NoShrink = cCtx.Bool("no-shrink")
	if cCtx.IsSet("guest-repository") {
		opts.GuestRepositories = cCtx.Generic("guest-repository").(*lineList).values
		if slices.Equal(opts.GuestRepositories, []string{"none"}) {
			opts.GuestRepositories = []string{}
		}
	}
	if opts.Output, err = outputPath(cCtx); err != nil {
		return opts, err
	}
	if s := cCtx.String("size"); s != "" {
		if opts.Size, err = parseSize(s); err != nil {
			return opts, usageError("parsing --size: %v", err)
		}
	}
	if opts.Time, err = sourceDateEpoch(); err != nil {
		return opts, err
	}
	for _, dir := range cCtx.Generic("files").(*lineList).values {
		st, err := os.Stat(dir)
		if err != nil {
			return opts, fmt.Errorf("reading --files directory: %w", err)
		}
		if !st.IsDir() {
			return opts, fmt.Errorf("reading --files directory: %s is not a directory", dir)
		}
		opts.Files = append(opts.Files, filesDir{os.DirFS(dir).(fs.ReadLinkFS), dir})
	}
	if f := cCtx.String("authorized-keys"); f != "" {
		if opts.AuthorizedKeys, err = readFlagFile("--authorized-keys", f, maxAuthorizedKeysSize); err != nil {
			return opts, err
		}
	}
	if opts.Owner, err = sudoOwner(); err != nil {
		return opts, err
	}
	return opts, nil
}

// outputPath is -o, or --image-name under ~/.sbx/images.
func outputPath(cCtx *cli.Context) (string, error) {
	if o := cCtx.String("output"); o != "" {
		if cCtx.IsSet("image-name") {
			return "", cli.Exit("give -o/--output or --image-name, not both", 2)
		}
		return filepath.Abs(o)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory for ~/.sbx/images (give -o): %w", err)
	}
	return imagePath(home, cCtx.String("image-name"))
}

// imagePath is where --image-name puts the image: the shell builder's
// ~/.sbx/images/NAME, with the home directory and separators of the host.
func imagePath(home, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || filepath.Base(name) != name || filepath.VolumeName(name) != "" {
		return "", cli.Exit(fmt.Sprintf("--image-name %q: want a file name (for a path, use -o)", name), 2)
	}
	return filepath.Join(home, ".sbx", "images", name), nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH; zero when unset.
func sourceDateEpoch() (time.Time, error) {
	s, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || s == "" {
		return time.Time{}, nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("parsing SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// sudoOwner returns the user who ran `sudo rootfs-synth`, so that, as
// with the shell builder, ~/.sbx/images and the image belong to them; nil
// when not run as root under sudo.
func sudoOwner() (*build.Owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, g := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID")
	if u == "" || g == "" {
		return nil, nil
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("reading SUDO_UID/SUDO_GID %q/%q: want numbers", u, g)
	}
	return &build.Owner{UID: uid, GID: gid}, nil
}

// filesDir is a --files directory, named so in provision's errors.
type filesDir struct {
	fs.ReadLinkFS
	dir string
}

func (d filesDir) String() string { return "--files " + d.dir }
