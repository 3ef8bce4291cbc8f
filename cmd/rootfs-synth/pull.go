package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/oci"
)

// pullCommand is `rootfs-synth pull REF -o IMAGE`.
func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "pull an image pushed with `rootfs-synth push` from an OCI registry",
		ArgsUsage: "REF",
		Description: "Downloads the image REF names (host/repository:tag or @sha256:...; from an\n" +
			"index, the one for --arch, default the host's) into IMAGE, decompressing as it\n" +
			"streams into a sparse file. Every digest is checked: a blob that does not match\n" +
			"is an error naming its digest, and the raw image must have the size and digest\n" +
			"its annotations name. Like every output, IMAGE is written to a temporary file\n" +
			"beside it and renamed at the end (a name ending in .zst or .xz is compressed\n" +
			"again). --sbom and --report fetch the image's referrers of those types, before\n" +
			"the image is downloaded. Credentials come from docker's config. Prints the image's\n" +
			"REPOSITORY@sha256:... and arch.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "image `FILE` to write (replaced atomically; a device, directory or symlink is refused)"},
			&cli.StringFlag{Name: "arch", Usage: "the `ARCH` to pick from an index (default: the host's); an image must be for it"},
			&cli.StringFlag{Name: "sbom", Usage: "write the image's SPDX JSON SBOM to `FILE`"},
			&cli.StringFlag{Name: "report", Usage: "write the image's build report to `FILE`"},
		},
		OnUsageError: usageExit("pull"),
		Action:       runPull,
	}
}

func runPull(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("pull: need one REF (e.g. rootfs-synth pull registry.example/sandbox/alpine:v1 -o alpine.ext4)")
	}
	ref, out := c.Args().First(), c.String("output")
	if c.IsSet("arch") {
		if err := checkArchFlag(c); err != nil {
			return err
		}
	}
	opts := oci.PullOptions{Arch: c.String("arch")}
	// Every output is checked, and the small ones fetched, before the
	// image is downloaded.
	referrers := []struct{ flag, artifactType string }{{"sbom", oci.SBOMArtifactType}, {"report", oci.ReportArtifactType}}
	for _, name := range []string{out, c.String("sbom"), c.String("report")} {
		if name == "" {
			continue
		}
		if err := imagefile.Check(name); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
	}
	// Once, by digest: a tag moved meanwhile cannot give the SBOM of one
	// image and the bytes of another.
	digest, err := oci.Resolve(c.Context, ref, opts)
	if err != nil {
		return pullError("", err)
	}
	data := map[string][]byte{}
	for _, r := range referrers {
		if c.String(r.flag) == "" {
			continue
		}
		b, err := oci.Referrer(c.Context, digest, r.artifactType, opts)
		if err != nil {
			return pullError("--"+r.flag+": ", err)
		}
		data[r.flag] = b
	}
	pulled, err := oci.Pull(c.Context, digest, out, opts)
	if err != nil {
		return pullError("", err)
	}
	for _, r := range referrers {
		if b, ok := data[r.flag]; ok {
			err := imagefile.Write(c.Context, c.String(r.flag), imagefile.Options{}, func(w io.WriteSeeker) error {
				_, err := w.Write(b)
				return err
			})
			if err != nil {
				return fmt.Errorf("pull: --%s: %w", r.flag, err)
			}
		}
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s %s\n", pulled.Ref, pulled.Arch)
	return err
}

// pullError says err in one line for a person: the library's field is
// the flag.
func pullError(prefix string, err error) error {
	return renamed{"pull: " + prefix + strings.ReplaceAll(err.Error(), "PullOptions.Arch", "--arch"), err}
}
