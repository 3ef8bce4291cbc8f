package oci

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/sbom"
)

// localImage is an image file made ready to push: its layer (the input
// itself when it is already one zstd frame, else a compressed temporary
// file), the raw image's digest and size, and what the manifest says of
// it.
type localImage struct {
	path        string
	layer       *fileLayer
	title       string
	rawDigest   v1.Hash
	rawSize     int64
	arch        string
	annotations map[string]string
	report      []byte // the report stored in the image; nil when it has none
	sbom        []byte // its SPDX document, made by push; nil when given or when it has no apk database
	temps       []string
}

// remove removes the temporary files.
func (l *localImage) remove() {
	for _, t := range l.temps {
		os.Remove(t)
	}
}

// imageReport is what push reads of the build report stored in an image.
// Unknown fields are fine: an image of a newer build still pushes.
type imageReport struct {
	Arch            string            `json:"arch"`
	Branch          string            `json:"branch"`
	Repositories    []string          `json:"repositories"`
	SourceDateEpoch int64             `json:"source_date_epoch"`
	Packages        []json.RawMessage `json:"packages"`
}

// zstdMagic starts a zstd frame (singleZstdFrame walks one).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// openLocal prepares the image at path (raw ext4, or a .zst or .xz of
// one, told apart by content) for pushing; arch is the caller's, which
// an image without a report needs and an image with one must agree with.
// Temporary files go to tempDir ("" is os.TempDir()).
func openLocal(ctx context.Context, path, arch, tempDir string, makeSBOM bool) (_ *localImage, err error) {
	l := &localImage{path: path}
	defer func() {
		if err != nil {
			l.remove()
			err = fmt.Errorf("reading image %s: %w", path, err)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	base := filepath.Base(path)
	for _, ext := range []string{".zst", ".xz"} {
		if strings.HasSuffix(strings.ToLower(base), ext) {
			base = base[:len(base)-len(ext)]
		}
	}
	l.title = base + ".zst"

	rawHash := sha256.New()
	raw := f // the raw image, for reading its report and superblock
	var decoded io.Reader
	switch imagefile.SniffCompression(f) {
	case "zstd":
		single, err := singleZstdFrame(f)
		if err != nil {
			return nil, err
		}
		if single {
			// Our own kind of .zst: the blob as it is, no recompressing.
			d, size, err := v1.SHA256(imagefile.ContextReader(ctx, f))
			if err != nil {
				return nil, err
			}
			l.layer = &fileLayer{path: path, digest: d, size: size, mediaType: LayerMediaType}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
		}
		dec, err := zstd.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		decoded = dec
	case "xz":
		if decoded, err = xz.NewReader(bufio.NewReaderSize(f, 1<<16)); err != nil {
			return nil, err
		}
	}
	var sparse *imagefile.SparseWriter
	var sinks []io.Writer
	if decoded != nil {
		// A compressed input is decompressed into a sparse temporary
		// file: ext4fs needs to read at random.
		if raw, err = l.temp(tempDir, "raw"); err != nil {
			return nil, err
		}
		defer raw.Close()
		sparse = imagefile.NewSparseWriter(raw, filepath.Dir(raw.Name()))
		sinks = append(sinks, sparse)
	} else {
		decoded = f
	}
	var layerFile *os.File
	var layerBuf *bufio.Writer
	var layerHash *hashWriter
	var enc *zstd.Encoder
	if l.layer == nil {
		if layerFile, err = l.temp(tempDir, "zst"); err != nil {
			return nil, err
		}
		defer layerFile.Close()
		layerBuf = bufio.NewWriterSize(layerFile, 1<<20)
		layerHash = &hashWriter{w: layerBuf, h: sha256.New()}
		if enc, err = imagefile.NewZstdWriter(layerHash); err != nil {
			return nil, err
		}
		sinks = append(sinks, enc)
	}
	sinks = append(sinks, rawHash)
	size, err := io.Copy(io.MultiWriter(sinks...), imagefile.ContextReader(ctx, decoded))
	if err != nil {
		if enc != nil {
			enc.Close()
		}
		return nil, err
	}
	l.rawSize = size
	l.rawDigest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", rawHash.Sum(nil))}
	if sparse != nil {
		if err := sparse.Close(); err != nil {
			return nil, err
		}
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return nil, err
		}
		if err := layerBuf.Flush(); err != nil {
			return nil, err
		}
		if err := layerFile.Close(); err != nil {
			return nil, err
		}
		l.layer = &fileLayer{path: layerFile.Name(), size: layerHash.n, mediaType: LayerMediaType,
			digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", layerHash.h.Sum(nil))}}
	}
	if err := l.describe(raw, arch); err != nil {
		return nil, err
	}
	if makeSBOM {
		if l.sbom, err = imageSBOM(ctx, raw, l.rawSize, l.rawDigest); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// imageSBOM is the SPDX document of the raw image in r (sbom.FromFS),
// nil for an image without apk's database, which has no packages to
// tell of (an image mkfs made of some tree).
func imageSBOM(ctx context.Context, r io.ReaderAt, size int64, digest v1.Hash) ([]byte, error) {
	fsys, err := ext4fs.Open(r, size)
	if err != nil {
		return nil, err
	}
	if _, err := fsys.Lstat("lib/apk/db/installed"); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	doc, err := sbom.FromFS(ctx, fsys, digest.String())
	if err != nil {
		return nil, fmt.Errorf("making its SBOM: %w", err)
	}
	var buf bytes.Buffer
	if err := doc.WriteJSON(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// temp creates a temporary file that remove removes.
func (l *localImage) temp(dir, kind string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "rootfs-synth-push-*."+kind)
	if err != nil {
		return nil, err
	}
	l.temps = append(l.temps, f.Name())
	return f, nil
}

// describe reads the report and superblock of the raw image in r and
// sets the arch and the manifest's annotations.
func (l *localImage) describe(r io.ReaderAt, arch string) error {
	if arch != "" {
		if err := apk.CheckArch(arch); err != nil {
			return fmt.Errorf("Image.Arch: %w", err)
		}
	}
	fsys, err := ext4fs.Open(r, l.rawSize)
	if err != nil {
		return err
	}
	info := fsys.Info()
	u := info.UUID
	l.annotations = map[string]string{
		AnnotationFSUUID: fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]),
	}
	l.report, err = readReport(fsys)
	if err != nil {
		return err
	}
	if l.report == nil {
		if arch == "" {
			return fmt.Errorf("it holds no build report at %s to take its arch from: name the arch (Image.Arch)", reportPath)
		}
		// mke2fs and ext4img stamp the superblock with the filesystem's
		// creation time: for our images that is SOURCE_DATE_EPOCH.
		l.annotations[AnnotationCreated] = info.Created.Format(time.RFC3339)
		l.arch = arch
		l.annotations[AnnotationArch] = arch
		return nil
	}
	var rep imageReport
	if err := json.Unmarshal(l.report, &rep); err != nil {
		return fmt.Errorf("reading %s: %w", reportPath, err)
	}
	switch {
	case apk.CheckArch(rep.Arch) != nil:
		return fmt.Errorf("%s: %w", reportPath, apk.CheckArch(rep.Arch))
	case arch != "" && arch != rep.Arch:
		return fmt.Errorf("its build report says arch %q, not %q", rep.Arch, arch)
	}
	l.arch = rep.Arch
	l.annotations[AnnotationArch] = rep.Arch
	l.annotations[AnnotationCreated] = time.Unix(rep.SourceDateEpoch, 0).UTC().Format(time.RFC3339)
	l.annotations[AnnotationPackages] = strconv.Itoa(len(rep.Packages))
	if b := rep.branch(); b != "" {
		l.annotations[AnnotationBranch] = b
	}
	return nil
}

// readReport returns the report stored in the image, or nil when there is none.
func readReport(fsys *ext4fs.FS) ([]byte, error) {
	f, err := fsys.Open(strings.TrimPrefix(reportPath, "/"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", reportPath, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", reportPath, err)
	}
	if !st.Mode().IsRegular() || st.Size() > maxReportSize {
		return nil, fmt.Errorf("reading %s: not a regular file of at most %d MiB", reportPath, maxReportSize>>20)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", reportPath, err)
	}
	return b, nil
}

// branch is the report's branch, or the one every repository line names
// as the directory above its repository (".../alpine/v3.23/main"), or ""
// when they do not agree.
func (r *imageReport) branch() string {
	if r.Branch != "" {
		return r.Branch
	}
	branch := ""
	for _, line := range r.Repositories {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		parts := strings.Split(strings.TrimRight(fields[len(fields)-1], "/"), "/")
		if len(parts) < 2 {
			return ""
		}
		b := parts[len(parts)-2]
		if branch != "" && b != branch {
			return ""
		}
		branch = b
	}
	return branch
}

// singleZstdFrame reports whether r holds exactly one zstd frame and
// nothing after it (no skippable frames, no dictionary): what
// imagefile.NewZstdWriter makes, and what a pull decodes without caring
// about frame boundaries. It walks the block headers without decoding,
// then seeks r back to its start.
func singleZstdFrame(r io.ReadSeeker) (bool, error) {
	defer r.Seek(0, io.SeekStart)
	br := bufio.NewReaderSize(r, 1<<16)
	var hdr [5]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return false, nil
	}
	if !bytes.HasPrefix(hdr[:4], zstdMagic) {
		return false, nil
	}
	fhd := hdr[4]
	dictID := [4]int{0, 1, 2, 4}[fhd&3]
	if dictID != 0 {
		return false, nil
	}
	singleSegment := fhd&0x20 != 0
	checksum := fhd&0x04 != 0
	fcs := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcs == 0 && singleSegment {
		fcs = 1
	}
	skip := fcs
	if !singleSegment {
		skip++ // the window descriptor
	}
	if _, err := br.Discard(skip); err != nil {
		return false, nil
	}
	for {
		var bh [4]byte
		if _, err := io.ReadFull(br, bh[:3]); err != nil {
			return false, nil
		}
		h := binary.LittleEndian.Uint32(bh[:])
		last, typ, size := h&1 != 0, (h>>1)&3, int(h>>3)
		switch typ {
		case 1: // RLE: one byte, repeated size times
			size = 1
		case 3:
			return false, nil
		}
		if _, err := br.Discard(size); err != nil {
			return false, nil
		}
		if last {
			break
		}
	}
	if checksum {
		if _, err := br.Discard(4); err != nil {
			return false, nil
		}
	}
	_, err := br.ReadByte()
	if err == io.EOF {
		return true, nil
	}
	return false, nil
}

// hashWriter hashes and counts what it passes on.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}
