package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// stagedImage is the build's image, staged beside its target (see
// imagefile.Stage), with what the report says of it.
type stagedImage struct {
	file  *imagefile.Staged
	image *ImageReport
}

// imageProgress shows the image pipeline's steps as byte bars of the raw
// image's size, a bar per step as it starts.
func (u *ui) imageProgress(size int64) func(step string, done int64) {
	bars := map[string]func(int64){}
	return func(step string, done int64) {
		bar, ok := bars[step]
		if !ok {
			bar = u.byteBar(step, size)
			bars[step] = bar
		}
		bar(done)
	}
}

// checkOutputFile refuses to replace name (what the --report flag or the
// like names) unless it is a regular file or absent: a directory, device,
// FIFO, socket or symlink is never replaced, as for the image.
func checkOutputFile(flag, name string) error {
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if m := fi.Mode(); !m.IsRegular() {
		return fmt.Errorf("%s %q: refusing to replace %s", flag, name, unixmode.Kind(m))
	}
	return nil
}

// probeWritable proves that a file can be created in dir, for target:
// an unwritable output fails before the build, not after it.
func probeWritable(dir, target string) error {
	probe, err := os.CreateTemp(dir, "."+filepath.Base(target)+".probe-*")
	if err != nil {
		return errors.Unwrap(err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}
