package main

import (
	"bufio"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/sbom"
)

// sbomCommand is `rootfs-synth sbom IMAGE [-o FILE]`.
func sbomCommand() *cli.Command {
	return &cli.Command{
		Name:      "sbom",
		Usage:     "write the SPDX 2.3 JSON bill of materials of an ext4 image",
		ArgsUsage: "IMAGE",
		Description: "Reads the image (a raw ext4 file, not .zst or .xz) without mounting it: apk's database,\n" +
			"the build report it carries and /etc/os-release; see package sbom. The same image\n" +
			"gives the same bytes, the ones `rootfs-synth --sbom FILE` wrote when it was built.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (replaced atomically) instead of stdout"},
		},
		OnUsageError: usageExit("sbom"),
		Action:       writeSBOM,
	}
}

func writeSBOM(cCtx *cli.Context) error {
	if cCtx.NArg() != 1 {
		return usageError("sbom: need exactly one IMAGE (e.g. rootfs-synth sbom alpine.ext4 -o sbom.json)")
	}
	image, out := cCtx.Args().First(), cCtx.String("output")
	if out != "" {
		if sameFile(image, out) {
			return usageError("sbom: -o %q is IMAGE itself", out)
		}
		// Before the image is read: a target that cannot be replaced
		// fails at once.
		if err := imagefile.CheckReplaceable(out); err != nil {
			return fmt.Errorf("sbom: writing SBOM %s: %w", out, err)
		}
	}
	doc, err := sbom.FromImage(cCtx.Context, image)
	if err != nil {
		return oneLine(fmt.Errorf("sbom: %w", err))
	}
	if out == "" {
		w := bufio.NewWriterSize(cCtx.App.Writer, 1<<16)
		if err := doc.WriteJSON(w); err != nil {
			return fmt.Errorf("sbom: %w", err)
		}
		return w.Flush()
	}
	err = imagefile.Write(cCtx.Context, out, imagefile.Options{Kind: "SBOM"}, func(w io.WriteSeeker) error { return doc.WriteJSON(w) })
	if err != nil {
		return fmt.Errorf("sbom: %w", err)
	}
	return nil
}
