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

// defaultRepositories are used when no --repository is given: main and
// community, like the /etc/apk/repositories of Alpine's own minirootfs and
// alpine-make-rootfs, in that order, so main wins where both have a name.
var defaultRepositories = []string{
	build.DefaultMirror + "/" + build.DefaultBranch + "/main",
	build.DefaultMirror + "/" + build.DefaultBranch + "/community",
}

// resolveCommand is `rootfs-synth resolve ATOM...`.
func resolveCommand() *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "print the packages apk would install for a world, in install order",
		ArgsUsage: "ATOM...",
		Description: "Fetches and verifies the repositories' indexes (into the cache) and prints\n" +
			"name-version of every package a fresh install of the ATOMs (e.g. busybox,\n" +
			"'musl>=1.2', 'foo@edge') selects, one per line, in install order. When the\n" +
			"world cannot be satisfied, the solver's explanation goes to stderr and the\n" +
			"exit status is 1.\n\n" +
			"Default repositories: " + strings.Join(defaultRepositories, " and ") + ".",
		Flags:  apkClientFlags(),
		Action: resolve,
	}
}

func resolve(cCtx *cli.Context) error {
	if cCtx.NArg() == 0 {
		return usageError("resolve: no ATOM given (e.g. rootfs-synth resolve alpine-base)")
	}
	var world []apk.Dependency
	for _, a := range cCtx.Args().Slice() {
		d, err := apk.ParseWorldAtom(a)
		if err != nil {
			return usageError("resolve: %v", err)
		}
		world = append(world, d)
	}
	client, repos, err := newAPKClient(cCtx)
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	indexes, err := client.FetchIndexes(cCtx.Context, repos)
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	pkgs, err := apk.Solve(world, indexes, apk.SolveOptions{Arch: client.Arch})
	if err != nil {
		return err
	}
	var out strings.Builder
	for _, p := range pkgs {
		out.WriteString(p.String() + "\n")
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

// newAPKClient makes the client and the repository list that the flags of
// apkClientFlags describe. Warnings go to the app's stderr.
func newAPKClient(cCtx *cli.Context) (*apk.Client, []apk.Repository, error) {
	arch := cCtx.String("arch")
	if err := checkArchFlag(cCtx); err != nil {
		return nil, nil, err
	}
	lines := cCtx.Generic("repository").(*lineList).values
	if len(lines) == 0 {
		lines = defaultRepositories
	}
	var repos []apk.Repository
	for _, l := range lines {
		rs, err := apk.ParseRepositoryLine(l)
		if err != nil {
			return nil, nil, usageError("--repository: %v", err)
		}
		repos = append(repos, rs...)
	}
	if len(repos) == 0 {
		return nil, nil, usageError("--repository: no repository given")
	}
	client, err := apkClient(cCtx, arch)
	if err != nil {
		return nil, nil, err
	}
	return client, repos, nil
}

// apkClient makes the client that the key, cache and network flags of
// apkClientFlags describe, for arch. Warnings go to the app's stderr.
func apkClient(cCtx *cli.Context, arch string) (*apk.Client, error) {
	keys, err := apk.AlpineKeys(arch)
	if err != nil {
		if cCtx.String("keys-dir") == "" && !cCtx.Bool("allow-untrusted") {
			return nil, fmt.Errorf("%w; give --keys-dir for this arch", err)
		}
		keys = apk.NewKeyRing()
	}
	if dir := cCtx.String("keys-dir"); dir != "" {
		if err := keys.AddDir(dir); err != nil {
			return nil, fmt.Errorf("--keys-dir: %w", err)
		}
	}
	stderr := cCtx.App.ErrWriter
	if cCtx.Bool("allow-untrusted") {
		warnUntrusted(stderr)
	}
	c := &apk.Client{
		CacheDir:       cCtx.String("cache-dir"),
		Keys:           keys,
		Arch:           arch,
		AllowUntrusted: cCtx.Bool("allow-untrusted"),
		Offline:        cCtx.Bool("offline"),
		Logger:         newLogger(stderr),
	}
	if err := c.CheckCache(); err != nil {
		return nil, err
	}
	return c, nil
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
