package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/profiles"
)

// defaultConfigName is the file `init` writes when given none.
const defaultConfigName = "rootfs-synth.yaml"

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "write a commented starter build file for --config",
		ArgsUsage: "[FILE]",
		Description: "Writes FILE (default " + defaultConfigName + "), never over an existing one: a build file " +
			"that builds the default image from the official mirror as it is, with every other key commented out.",
		Action: writeStarter,
	}
}

func writeStarter(cCtx *cli.Context) error {
	if cCtx.NArg() > 1 {
		return usageError("init: give one FILE at most (got %d arguments)", cCtx.NArg())
	}
	name := defaultConfigName
	if cCtx.NArg() == 1 {
		name = cCtx.Args().First()
	}
	// Refused early here, and again by CommitNew should one appear
	// meanwhile: a starter never replaces a person's file.
	_, err := os.Lstat(name)
	if err == nil {
		err = fs.ErrExist
	} else if errors.Is(err, fs.ErrNotExist) {
		err = writeNew(cCtx.Context, name, starterConfig(name))
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("init: %q exists: not replacing it (remove it, or name another FILE)", name)
	}
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	_, err = fmt.Fprintf(cCtx.App.Writer, "wrote %s: build with rootfs-synth --config %s\n", quoteName(name), quoteName(name))
	return err
}

// writeNew writes content to a new file name, through a temporary file
// beside it; it fails matching fs.ErrExist when name exists.
func writeNew(ctx context.Context, name, content string) error {
	s, err := imagefile.Stage(ctx, name, imagefile.Options{}, func(w io.WriteSeeker) error {
		_, err := io.WriteString(w, content)
		return err
	})
	if err != nil {
		return err
	}
	defer s.Discard()
	return s.CommitNew(ctx)
}

// starterConfig is the starter build file named name: the default build
// spelled out, every other key commented with what it does.
func starterConfig(name string) string {
	return strings.NewReplacer(
		"{name}", name,
		"{profiles}", strings.Join(profiles.Names(), ", "),
		"{profile}", profiles.Default,
		"{branch}", build.DefaultBranch,
		"{mirror}", build.DefaultMirror,
		"{image}", build.DefaultImageName,
	).Replace(`# rootfs-synth build file: build with  rootfs-synth --config {name}
#
# Each key is a flag of "rootfs-synth --help", by its long name (plural for
# the repeatable flags: packages, mirrors, repositories, files, which take
# a list). A flag on the command line replaces its key. Relative paths are
# relative to this file's directory. A key left out keeps its default.

# What to install: a profile ({profiles}, none, or a file of apk atoms,
# one a line) and more packages ("name", "name>=1.2", "name@tag").
profile: {profile}
# packages:
#   - python3
#   - nodejs

# Where from: <branch>/main and <branch>/community of each mirror (URLs or
# directories laid out as a mirror; later ones are failovers), then other
# repositories, as lines of /etc/apk/repositories.
branch: {branch}
mirrors:
  - {mirror}
# repositories:
#   - "@edge {mirror}/edge/community"
# arch: x86_64              # default: the host's
# keys-dir: keys            # also trust the *.pub keys in this directory
# allow-untrusted: true     # DANGEROUS: accept unsigned indexes
# cache-dir: cache          # default: $XDG_CACHE_HOME/rootfs-synth
# offline: true             # only the cache and directory repositories

# The image: ~/.sbx/images/<image-name>, or output.
# image-name: {image}
# output: alpine.ext4       # .zst or .xz writes it compressed
# size: 4G                  # default: fit the tree
# no-shrink: true           # keep 1 GiB free (sparse: no disk space)
# no-journal: true
# strict: true              # fail on a package script not reproduced
# no-deferred-scripts: true # leave those out instead of running them at first boot

# What the guest gets besides its packages.
# hostname: sandbox
# authorized-keys: id_ed25519.pub   # becomes /root/.ssh/authorized_keys
# files:                    # laid over the image, in order
#   - overlay
# guest-repositories:       # the guest's /etc/apk/repositories (- none: empty);
#   - https://dl-cdn.alpinelinux.org/alpine/{branch}/main   # default: the official
#   - https://dl-cdn.alpinelinux.org/alpine/{branch}/community   # mirror's main, community

# The JSON report: what was built, and a lock that builds it again
# exactly: the same packages and inputs (rootfs-synth --config {name}
# --lock report.json; lock replaces profile and packages).
# report: report.json
# sbom: sbom.spdx.json      # the SPDX 2.3 bill of materials
# lock: report.json
`)
}
