package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// mkfsCommand is `rootfs-synth mkfs SRC_DIR -o IMG` (placeholder until the ext4img issue lands).
func mkfsCommand() *cli.Command {
	return &cli.Command{
		Name:      "mkfs",
		Usage:     "write an ext4 image from a host directory",
		ArgsUsage: "SRC_DIR",
		Action: func(*cli.Context) error {
			return errors.New("mkfs: not implemented yet")
		},
	}
}
