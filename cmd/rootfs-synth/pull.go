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
	if err := checkGivenArch(c); err != nil {
		return err
	}
	opts := oci.PullOptions{Arch: c.String("arch")}
	// Every output is checked, and the small ones fetched, before the
	// image is downloaded.
	referrers := []struct{ flag, artifactType string }{{"sbom", oci.SBOMArtifactType}, {"report", oci.ReportArtifactType}}
	outputs := []struct{ flag, name string }{{"-o", out}, {"--sbom", c.String("sbom")}, {"--report", c.String("report")}}
	for i, o := range outputs {
		if o.name == "" {
			continue
		}
		for _, p := range outputs[:i] {
			if p.name != "" && sameFile(p.name, o.name) {
				return usageError("pull: %s and %s name one file, %s", p.flag, o.flag, quoteName(o.name))
			}
		}
		if err := imagefile.Check(o.name); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
	}
	// Once, by digest: a tag moved meanwhile cannot give the SBOM of one
	// image and the bytes of another.
	digest, err := oci.Resolve(c.Context, ref, opts)
	if err != nil {
		return pullError("", err)
	}
	// The referrers are staged beside their targets, and put in place
	// only once the image is: a failure before then leaves none of the
	// outputs (a rename failing after the image's would leave it).
	var staged []*imagefile.Staged
	defer func() {
		for _, s := range staged {
			s.Discard()
		}
	}()
	for _, r := range referrers {
		if c.String(r.flag) == "" {
			continue
		}
		b, err := oci.Referrer(c.Context, digest, r.artifactType, opts)
		if err != nil {
			return pullError("--"+r.flag+": ", err)
		}
		s, err := imagefile.Stage(c.Context, c.String(r.flag), imagefile.Options{}, func(w io.WriteSeeker) error {
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			return fmt.Errorf("pull: --%s: %w", r.flag, err)
		}
		staged = append(staged, s)
	}
	pulled, err := oci.Pull(c.Context, digest, out, opts)
	if err != nil {
		return pullError("", err)
	}
	for _, s := range staged {
		if err := s.Commit(c.Context); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
	}
	staged = nil
	_, err = fmt.Fprintf(c.App.Writer, "%s %s\n", pulled.Ref, pulled.Arch)
	return err
}

// pullError says err in one line for a person: the library's field is
// the flag.
func pullError(prefix string, err error) error {
	return renamed{"pull: " + prefix + strings.ReplaceAll(err.Error(), "PullOptions.Arch", "--arch"), err}
}
