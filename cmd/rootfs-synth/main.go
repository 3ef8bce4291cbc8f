// Command rootfs-synth builds Alpine Linux root filesystem images for
// Firecracker microVMs without root, mount, chroot or mke2fs.
//
// Each subcommand lives in its own file (mkfs.go, resolve.go, ...) and
// returns its *cli.Command; this file only assembles them and owns the exit
// status.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "rootfs-synth: %v\n", err)
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "rootfs-synth",
		Usage: "build Alpine Linux root filesystem images for Firecracker, rootless",
		Commands: []*cli.Command{
			mkfsCommand(),
			resolveCommand(),
			lsCommand(),
			catCommand(),
		},
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}
