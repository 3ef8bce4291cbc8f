// Package inspect says what is inside an image and what changed between
// two: the build report an image carries (build.ReportPath), its
// digest, size and superblock, the packages apk's database lists, and,
// between two images, every file added, removed or changed.
//
// It reads images with ext4fs, so a hostile image gives an error, never a
// panic or an unbounded allocation: the report and apk's database are
// read up to a cap, directory loops are refused, and contents are
// compared a block at a time, never held whole.
//
// A build's compressed image (.zst, .xz, known by its magic number) is
// decompressed into a sparse temporary file first (imagefile.Decompress).
// Left out: registry references (pull first) and anything the journal
// holds that was not checkpointed (an image is read as it is on disk).
package inspect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// The largest report and apk database read from an image: far above what
// a real one holds (a 2,000-package database is a few MiB), low enough
// that a hostile image cannot make us allocate much.
const (
	maxReportSize    = 16 << 20
	maxInstalledSize = 128 << 20
)

// An Image is an ext4 image opened for inspection.
type Image struct {
	Path string
	FS   *ext4fs.FS

	// Report is the build report stored in the image, nil when the
	// image has none (not built by rootfs-synth, or by an older one).
	Report *build.Report
	// Installed is apk's database of the image (lib/apk/db/installed),
	// nil when it has none.
	Installed []*apk.InstalledPackage

	SHA256    string // of the raw image, hex
	Size      int64  // of the raw image
	Allocated int64  // bytes the file takes on disk (less than Size when sparse or compressed)

	// Compression is "zstd" or "xz" for a compressed image file, whose
	// own SHA-256 is CompressedSHA256; "" for a raw one.
	Compression      string
	CompressedSHA256 string

	f         *os.File // the raw image
	closeFile func()
}

// Open opens the ext4 image at path, hashes it, and reads its report and
// apk's database.
func Open(ctx context.Context, path string) (*Image, error) {
	f, err := openImage(path)
	if err != nil {
		return nil, err
	}
	img := &Image{Path: path, f: f, closeFile: func() { f.Close() }}
	if err := img.read(ctx); err != nil {
		img.Close()
		return nil, err
	}
	return img, nil
}

// sha256Of is the hex SHA-256 of the first size bytes of f, read until
// ctx is done.
func sha256Of(ctx context.Context, f *os.File, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, imagefile.ContextReader(ctx, io.NewSectionReader(f, 0, size))); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (img *Image) read(ctx context.Context) error {
	st, err := img.f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%q: not a regular file", img.Path)
	}
	img.Size = st.Size()
	img.Allocated = imagefile.AllocatedBytes(st)
	if img.Compression = imagefile.SniffCompression(img.f); img.Compression != "" {
		if img.CompressedSHA256, err = sha256Of(ctx, img.f, img.Size); err != nil {
			return fmt.Errorf("reading %q: %w", img.Path, err)
		}
		raw, size, closeRaw, err := imagefile.Decompress(ctx, io.NewSectionReader(img.f, 0, img.Size), img.Compression)
		if err != nil {
			return fmt.Errorf("reading %q: %w", img.Path, err)
		}
		img.closeFile()
		img.f, img.Size, img.closeFile = raw, size, closeRaw
	}
	if img.SHA256, err = sha256Of(ctx, img.f, img.Size); err != nil {
		return fmt.Errorf("reading %q: %w", img.Path, err)
	}
	if img.FS, err = ext4fs.Open(img.f, img.Size); err != nil {
		return fmt.Errorf("reading %q: %w", img.Path, err)
	}
	if b, err := img.readFile(build.ReportPath, maxReportSize); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading %s in %q: %w", build.ReportPath, img.Path, err)
		}
	} else if img.Report, err = build.ReadImageReport(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("reading %s in %q: %w", build.ReportPath, img.Path, err)
	}
	const installed = "/lib/apk/db/installed"
	if b, err := img.readFile(installed, maxInstalledSize); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading %s in %q: %w", installed, img.Path, err)
		}
	} else if img.Installed, err = apk.ReadInstalled(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("reading %s in %q: %w", installed, img.Path, err)
	}
	return nil
}

// readFile reads the regular file name of the image, up to limit bytes.
func (img *Image) readFile(name string, limit int64) ([]byte, error) {
	in, err := img.FS.Resolve(name, true)
	if err != nil {
		return nil, err
	}
	if !in.Mode.IsRegular() {
		return nil, fmt.Errorf("is not a regular file")
	}
	if in.Size > limit {
		return nil, fmt.Errorf("%d bytes, more than the %d a real one holds", in.Size, limit)
	}
	r, err := img.FS.OpenInode(in)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, limit))
}

// Close closes the image file (and removes the decompressed copy of a
// compressed one).
func (img *Image) Close() error {
	img.closeFile()
	return nil
}

// FullReport is the image's report with its image section filled in
// from the image itself, as the build's report file has it (without the
// phases' times, which the image does not keep). For an image without a
// report it is what apk's database says: the packages and their arch.
func (img *Image) FullReport() *build.Report {
	var rep build.Report
	if img.Report != nil {
		rep = *img.Report
	} else {
		for _, p := range img.Installed {
			rep.Arch = p.Arch
			rep.Packages = append(rep.Packages, provision.PackageReport{
				Name: p.Name, Version: p.Version, Arch: p.Arch, Checksum: checksumString(p.Package),
				Size: p.Size, InstalledSize: p.InstalledSize,
			})
		}
	}
	info := img.FS.Info()
	u := info.UUID
	rep.Image = &build.ImageReport{
		Path:           img.Path,
		Size:           img.Size,
		AllocatedBytes: img.Allocated,
		BlockSize:      info.BlockSize,
		Blocks:         info.Blocks,
		FreeBlocks:     info.FreeBlocks,
		FreeInodes:     info.FreeInodes,
		UUID:           fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]),
		Digest:         "sha256:" + img.SHA256,
	}
	if img.CompressedSHA256 != "" {
		rep.Image.CompressedDigest = "sha256:" + img.CompressedSHA256
	}
	return &rep
}
