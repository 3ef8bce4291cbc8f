package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/build"
)

// fetchCommand is `rootfs-synth fetch [flags]`.
func fetchCommand() *cli.Command {
	flags := append(selectionFlags(),
		&cli.StringFlag{
			Name: "dest",
			Usage: "also lay the packages out in `DIR` as a mirror: DIR/<branch>/<repo>/<arch>/ holds the " +
				"original signed APKINDEX.tar.gz and the .apk files",
		},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print errors only"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log every package"},
	)
	return &cli.Command{
		Name:  "fetch",
		Usage: "download and verify the packages of a build into the cache, or into a mirror directory",
		Description: "Resolves the same selection a build would (--profile, --packages or --lock) and\n" +
			"downloads every package, verified against the signed index, into the cache. With\n" +
			"--dest DIR the indexes and packages are also copied into DIR laid out like an\n" +
			"Alpine mirror, so that a lock stays buildable after Alpine prunes old packages\n" +
			"and a build can run offline, on this machine or another:\n\n" +
			"   rootfs-synth fetch --lock report.json --dest /srv/alpine\n" +
			"   rootfs-synth --lock report.json --offline --mirror file:///srv/alpine",
		Flags:  flags,
		Action: runFetch,
	}
}

func runFetch(cCtx *cli.Context) error {
	if cCtx.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("fetch: unexpected argument %q: it takes flags only", cCtx.Args().First()), 2)
	}
	ctx, stop := interruptContext(cCtx.Context)
	defer stop()
	u := newUI(cCtx.App.ErrWriter, cCtx.Bool("quiet"), cCtx.Bool("verbose"))
	defer u.close()
	opts, err := selectionOptions(cCtx)
	if err != nil {
		return commandError("fetch", err, cCtx.String("lock"))
	}
	opts.Logger = u.logger()
	opts.Progress = func(e build.Event) {
		if e.Stats != nil { // fetch says what it did in its one line on stdout
			u.endBars(true)
			return
		}
		u.event(e)
	}
	dest := cCtx.String("dest")
	f, err := build.Fetch(ctx, opts, dest)
	if cause := context.Cause(ctx); cause != nil && err != nil {
		return fmt.Errorf("fetch: %w", cause)
	}
	if err != nil {
		return commandError("fetch", err, cCtx.String("lock"))
	}
	if dest == "" {
		fmt.Fprintf(cCtx.App.Writer, "fetched %d packages (%s) into the cache %s\n", f.Packages, sizeString(f.Bytes), f.CacheDir)
		return nil
	}
	fmt.Fprintf(cCtx.App.Writer, "fetched %d packages (%s) into %s: %s\n", f.Packages, sizeString(f.Bytes), dest, strings.Join(f.Dirs, ", "))
	return nil
}
