package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// resolveCommand is `rootfs-synth resolve ATOM...` (placeholder until the apk issue lands).
func resolveCommand() *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "print the packages apk would install for a world, in install order",
		ArgsUsage: "ATOM...",
		Action: func(*cli.Context) error {
			return errors.New("resolve: not implemented yet")
		},
	}
}
