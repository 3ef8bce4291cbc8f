package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/rootfs-synth/rootfs-synth/inspect"
	"github.com/rootfs-synth/rootfs-synth/oci"
)

// isRef says whether arg, which names no file, is a registry reference
// (host/repository:tag or @sha256:...) for inspect and diff to pull: it
// must name a repository (a "/") and a tag or digest, and not start as a
// path does (/, ./, ../), so that a mistyped file name stays a missing
// file.
func isRef(arg string) bool {
	if _, err := os.Lstat(arg); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../") {
		return false
	}
	i := strings.LastIndexByte(arg, '/')
	if i < 0 || !strings.ContainsAny(arg[i:], ":@") {
		return false
	}
	_, err := name.ParseReference(arg, name.StrictValidation)
	return err == nil
}

// openImageOrRef opens arg for inspect and diff: an image file, or a
// registry reference pulled (oci.Pull, every digest checked, the image
// for arch from an index) into a temporary directory removed by the
// function returned. The image's Path is arg.
func openImageOrRef(ctx context.Context, arg, arch string) (*inspect.Image, func(), error) {
	if isRef(arg) {
		return pullImage(ctx, arg, arch)
	}
	return openImageFile(ctx, arg)
}

// openImageFile opens the image file name, for openImageOrRef's callers.
func openImageFile(ctx context.Context, name string) (*inspect.Image, func(), error) {
	img, err := inspect.Open(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return img, func() { img.Close() }, nil
}

// pullImage pulls the reference arg into a temporary directory and opens
// it, as openImageOrRef says.
func pullImage(ctx context.Context, arg, arch string) (*inspect.Image, func(), error) {
	dir, err := os.MkdirTemp("", "rootfs-synth-pull-*")
	if err != nil {
		return nil, nil, fmt.Errorf("making a temporary directory to pull into (set TMPDIR): %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, "image.ext4")
	if _, err := oci.Pull(ctx, arg, file, oci.PullOptions{Arch: arch}); err != nil {
		cleanup()
		return nil, nil, err
	}
	img, err := inspect.Open(ctx, file)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("%s: %w", quoteName(arg), err)
	}
	img.Path = arg
	return img, func() { img.Close(); cleanup() }, nil
}
