package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// prepareOutputs creates the directories of the image and the report and
// proves them writable before anything is fetched, so an unwritable
// target fails in a second, not after the downloads.
func (b *builder) prepareOutputs() error {
	dir := filepath.Dir(b.output)
	if err := b.mkdirAll(dir); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	// A regular file or nothing: a symlink, device node, directory or
	// FIFO is refused, never replaced (as mkfs does).
	if err := imagefile.Check(b.output); err != nil {
		return err
	}
	if err := probeWritable(dir, b.output); err != nil {
		return fmt.Errorf("writing image %s: %w", b.output, err)
	}
	if err := b.prepareSBOM(); err != nil {
		return err
	}
	if b.reportPath == "" {
		return nil
	}
	if err := b.mkdirAll(filepath.Dir(b.reportPath)); err != nil {
		return fmt.Errorf("writing report %s: %w", b.reportPath, err)
	}
	if err := checkReportFile(b.reportPath); err != nil {
		return err
	}
	if err := probeWritable(filepath.Dir(b.reportPath), b.reportPath); err != nil {
		return fmt.Errorf("writing report %s: %w", b.reportPath, err)
	}
	// Again now that both directories exist: through a link that
	// dangled before they were made, both may name one file.
	if sameFile(b.reportPath, b.output) {
		return reportIsImage(b.reportPath, b.output)
	}
	return nil
}

func reportIsImage(report, image string) error {
	return &OptionError{"Report", report, usagef("is the image (%q): give the report a file of its own", image)}
}

// sameFile reports whether paths a and b name one file: the same name in
// the same directory as the kernel resolves it (symlinks, and ".." after
// them), or two names of one existing file (a symlink to it, a hard link).
func sameFile(a, b string) bool {
	if resolveDir(a) == resolveDir(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// pathSeparators are what ends a directory in a path: '/' everywhere, and
// the OS's own.
const pathSeparators = "/" + string(filepath.Separator)

// resolveDir is p with its directory resolved as the kernel would, when
// the directory exists: not filepath.Dir or Abs, which clean "link/.." away
// as text where the kernel goes up from the link's target.
func resolveDir(p string) string {
	dir, base := ".", p
	if i := strings.LastIndexAny(p, pathSeparators); i >= 0 {
		dir, base = p[:i+1], p[i+1:]
	}
	if !filepath.IsAbs(dir) {
		wd, err := os.Getwd()
		if err != nil {
			return p
		}
		dir = wd + string(filepath.Separator) + dir
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(r, base)
	}
	return filepath.Clean(dir + string(filepath.Separator) + base)
}

// mkdirAll creates dir and its missing parents, given to b.owner.
func (b *builder) mkdirAll(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range missing {
		if err := b.owner.chown(d); err != nil {
			return err
		}
	}
	return nil
}

func (o *Owner) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Lchown(path, o.UID, o.GID)
}

// checkReportFile refuses to replace the report unless it is a regular
// file or absent: a directory, device, FIFO, socket or symlink is never
// replaced, as for the image.
func checkReportFile(name string) error {
	if err := imagefile.CheckReplaceable(name); err != nil {
		return &OptionError{"Report", name, err}
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

// writeReport writes the build report, when Options.Report asks for it:
// through a temporary file renamed into place. The old report is kept
// aside until settle is told whether the image went into place too: then
// it is removed; if not, it is put back (or the new report removed when
// there was none).
func (b *builder) writeReport(rep *Report) (settle func(imageInPlace bool), err error) {
	if b.reportPath == "" {
		return func(bool) {}, nil
	}
	dir := filepath.Dir(b.reportPath)
	f, err := os.CreateTemp(dir, "."+filepath.Base(b.reportPath)+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := b.owner.chown(f.Name()); err != nil {
		return nil, err
	}
	// Again just before the rename, as for the image.
	if err := checkReportFile(b.reportPath); err != nil {
		return nil, err
	}
	// The old report, if any, is kept under a temporary name until the
	// image is in place.
	old := f.Name() + ".old"
	if err := os.Rename(b.reportPath, old); err != nil {
		old = ""
	}
	if err := os.Rename(f.Name(), b.reportPath); err != nil {
		if old != "" {
			os.Rename(old, b.reportPath)
		}
		return nil, err
	}
	return func(imageInPlace bool) {
		switch {
		case imageInPlace && old != "":
			os.Remove(old)
		case !imageInPlace && old != "":
			os.Rename(old, b.reportPath)
		case !imageInPlace:
			os.Remove(b.reportPath)
		}
	}, nil
}
