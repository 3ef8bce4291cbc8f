package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/build"
)

// --version prints what `version` does. It has no -v: that is --verbose.
func init() {
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version (as the version command does)"}
	cli.VersionPrinter = func(cCtx *cli.Context) { fmt.Fprint(cCtx.App.Writer, versionText()) }
}

// appVersion is the version alone, for the App (whose --version needs one).
func appVersion() string {
	first, _, _ := strings.Cut(versionText(), "\n")
	return strings.TrimPrefix(first, "rootfs-synth ")
}

// versionCommand is `rootfs-synth version`.
func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, the source revision, the Go version and the default Alpine branch",
		Action: func(cCtx *cli.Context) error {
			if cCtx.NArg() > 0 {
				return cli.Exit("version: takes no arguments", 2)
			}
			_, err := fmt.Fprint(cCtx.App.Writer, versionText())
			return err
		},
	}
}

// versionText is what `version` prints, from the build information the
// Go toolchain embeds (a module version for `go install ...@v1.2.3`, the
// VCS revision for a build in a git checkout).
func versionText() string {
	version, revision, modified := "(devel)", "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				revision += " (" + s.Value + ")"
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", with uncommitted changes"
				}
			}
		}
	}
	return fmt.Sprintf("rootfs-synth %s\nrevision: %s%s\ngo: %s %s/%s\ndefault branch: %s\n",
		version, revision, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH, build.DefaultBranch)
}
