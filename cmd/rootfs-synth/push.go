package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/oci"
)

// maxArtifactFileSize caps the --sbom and --report files push reads whole:
// an SBOM is a few KiB per package, so a heavy build's is well under 4 MiB.
const maxArtifactFileSize = 64 << 20

// pushCommand is `rootfs-synth push IMAGE... REF`.
func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "push images to an OCI registry, with their build report and SBOM attached",
		ArgsUsage: "IMAGE... REF",
		Description: "Uploads IMAGE (raw ext4, or the build's .zst or .xz of it) as an OCI artifact\n" +
			"tagged REF (host/repository:tag): one zstd layer holding the raw image, annotated\n" +
			"with the arch, branch, package count, filesystem UUID and SOURCE_DATE_EPOCH of the\n" +
			"build report stored in the image (/usr/lib/rootfs-synth/report.json). That report\n" +
			"(or --report) and the image's SPDX SBOM (made from apk's database and that\n" +
			"report, as rootfs-synth sbom does; or --sbom) are attached as referrers: through the registry's\n" +
			"referrers API, else the referrers tag (sha256-<digest>). Several images, one per\n" +
			"arch, or --platform push one OCI index (linux/amd64 for x86_64, linux/arm64 for\n" +
			"aarch64). Credentials come from docker's config (~/.docker/config.json,\n" +
			"$DOCKER_CONFIG). The same images pushed again give the same digests.\n\n" +
			"Prints REPOSITORY@sha256:... of what REF now names (the image, or the index and\n" +
			"then each image, in the order given), one per line.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arch", Usage: "the images' `ARCH` (needed for an image without a build report; else it must agree with it)"},
			&cli.BoolFlag{Name: "platform", Usage: "push an OCI index even for one image"},
			&cli.GenericFlag{Name: "sbom", Value: &lineList{}, Usage: "attach the SPDX JSON `FILE` instead of the SBOM push makes from the image (repeatable: one per IMAGE, in order)"},
			&cli.GenericFlag{Name: "report", Value: &lineList{}, Usage: "attach the build report `FILE` instead of the one in the image (repeatable: one per IMAGE, in order)"},
		},
		OnUsageError: usageExit("push"),
		Action:       runPush,
	}
}

func runPush(c *cli.Context) error {
	if c.NArg() < 2 {
		return usageError("push: need IMAGE... REF (e.g. rootfs-synth push alpine.ext4 registry.example/sandbox/alpine:v1)")
	}
	args := c.Args().Slice()
	paths, ref := args[:len(args)-1], args[len(args)-1]
	if err := checkGivenArch(c); err != nil {
		return err
	}
	images := make([]oci.Image, len(paths))
	for i, p := range paths {
		images[i] = oci.Image{Path: p, Arch: c.String("arch")}
	}
	for _, a := range []struct{ flag, artifactType string }{{"sbom", oci.SBOMArtifactType}, {"report", oci.ReportArtifactType}} {
		files := c.Generic(a.flag).(*lineList).values
		if len(files) == 0 {
			continue
		}
		if len(files) != len(paths) {
			return usageError("push: %d images need %d --%s files, one per image in order (given %d)", len(paths), len(paths), a.flag, len(files))
		}
		for i, f := range files {
			data, err := readFlagFile("--"+a.flag, f, maxArtifactFileSize)
			if err != nil {
				return fmt.Errorf("push: %w", err)
			}
			images[i].Referrers = append(images[i].Referrers, oci.Artifact{ArtifactType: a.artifactType, Data: data})
		}
	}
	pushed, err := oci.Push(c.Context, ref, images, oci.PushOptions{Index: c.Bool("platform")})
	if err != nil {
		// The library names its field; a person reads the flag.
		return renamed{"push: " + strings.ReplaceAll(err.Error(), "(Image.Arch)", "(--arch)"), err}
	}
	lines := []string{pushed.Ref}
	if pushed.Index {
		for _, im := range pushed.Images {
			lines = append(lines, im.Ref)
		}
	}
	_, err = fmt.Fprintln(c.App.Writer, strings.Join(lines, "\n"))
	return err
}
