package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/urfave/cli/v2"
)

// resolveCommand is `rootfs-synth resolve [flags] ATOM...`.
func resolveCommand() *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "print the packages apk would install for a world, in install order",
		ArgsUsage: "[ATOM...]",
		Description: "Fetches and verifies the repositories' indexes (into the cache) and prints\n" +
			"name-version of every package a fresh install of the ATOMs (e.g. busybox,\n" +
			"'musl>=1.2', 'foo@edge') selects, one per line, in install order. It takes the\n" +
			"build's selection and repository flags and resolves as the build does (see\n" +
			"rootfs-synth plan): --mirror (default " + build.DefaultMirror + "), --branch,\n" +
			"--repository (in addition to the mirror's main and community; --mirror none for\n" +
			"only these), --profile (none unless given: only the ATOMs and --packages), --lock.\n" +
			"When the world cannot be satisfied, the solver's explanation goes to stderr and\n" +
			"the exit status is 1.",
		Flags:  selectionFlags(),
		Action: resolve,
	}
}

func resolve(cCtx *cli.Context) error {
	atoms := cCtx.Args().Slice()
	for _, a := range atoms {
		if _, err := apk.ParseWorldAtom(a); err != nil {
			return usageError("resolve: %v", err)
		}
	}
	switch {
	case cCtx.String("lock") != "" && len(atoms) > 0:
		return usageError("resolve: --lock resolves exactly the locked packages: give it without ATOMs")
	case len(atoms) == 0 && cCtx.String("lock") == "" && !cCtx.IsSet("profile") && !cCtx.IsSet("packages"):
		return usageError("resolve: no ATOM given (e.g. rootfs-synth resolve alpine-base)")
	}
	opts, err := selectionOptions(cCtx)
	if err != nil {
		return commandError("resolve", err, cCtx.String("lock"))
	}
	if opts.Lock == nil {
		if !cCtx.IsSet("profile") {
			opts.Profile = "none" // the ATOMs are the world, as for apk
		}
		opts.Packages = append(opts.Packages, atoms...)
	}
	opts.Logger = newLogger(cCtx.App.ErrWriter)
	plan, err := build.Resolve(cCtx.Context, opts)
	if err != nil {
		return commandError("resolve", err, cCtx.String("lock"))
	}
	var out strings.Builder
	for _, p := range plan.Packages {
		out.WriteString(p.Name + "-" + p.Version + "\n")
	}
	_, err = fmt.Fprint(cCtx.App.Writer, out.String())
	return err
}

// apkClientFlags are the flags of every command that reads repositories.
func apkClientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:  "arch",
			Value: apk.HostArch(),
			Usage: "package `ARCH`itecture (the repository's arch directory)",
		},
		&cli.GenericFlag{
			// No alias (apk's -X): urfave copies a value to an alias by
			// Set(String()), which would add the joined list as one line.
			Name:  "repository",
			Value: &lineList{},
			Usage: "repository `URL_OR_DIR`: an https/http/file URL or a directory laid out like a mirror " +
				"(<base>/<branch>/<repo>); repeatable, earlier ones preferred; accepts repositories-file lines " +
				"('@tag URL', 'URL main community', and several URLs as mirrors of one repository)",
		},
		&cli.BoolFlag{
			Name:  "allow-untrusted",
			Usage: "accept indexes that are unsigned or signed by unknown keys (DANGEROUS)",
		},
		&cli.StringFlag{
			Name:  "keys-dir",
			Usage: "also trust the *.pub keys in `DIR`, in addition to Alpine's keys for --arch",
		},
		&cli.StringFlag{
			Name:  "cache-dir",
			Usage: "cache indexes and packages in `DIR` (default $XDG_CACHE_HOME/rootfs-synth)",
		},
		&cli.BoolFlag{
			Name:  "offline",
			Usage: "use only the cache (and file:// or directory repositories); never the network",
		},
	}
}

// warnUntrusted says on w what --allow-untrusted gives up.
func warnUntrusted(w io.Writer) {
	fmt.Fprintln(w, "WARNING: --allow-untrusted: indexes that are unsigned or signed by an unknown key are ACCEPTED;")
	fmt.Fprintln(w, "WARNING: whoever can change them chooses what gets installed.")
}

// newLogger logs warnings to w as "level=WARN msg=... key=value" lines,
// without timestamps.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// lineList is a repeatable flag whose values are kept whole (urfave's
// StringSliceFlag would split them at commas).
type lineList struct{ values []string }

func (l *lineList) Set(v string) error { l.values = append(l.values, v); return nil }
func (l *lineList) String() string     { return strings.Join(l.values, ", ") }
