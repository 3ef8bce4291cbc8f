// Package sbom makes an SPDX 2.3 JSON software bill of materials of an
// Alpine root filesystem image, read from the image itself: apk's
// installed database (/lib/apk/db/installed) gives each package's name,
// version, arch, licence (L:), maintainer (m:), origin (o:), homepage (U:),
// checksum (C:), dependencies (D:, p:) and the files it owns; the build
// report the image carries (build.ReportPath) adds each package's datahash
// and repository and the build's SOURCE_DATE_EPOCH; /etc/os-release gives
// the Alpine version. So one function serves a build that just wrote an
// image (FromFS, over its tree), any image file (FromImage), and a push.
//
// The document is shaped for the scanners people run on it: it DESCRIBES
// the image (a package whose SHA256 is the raw image's digest), which
// CONTAINS the operating system, SPDXRef-OperatingSystem-alpine (trivy
// takes the OS from that name and versionInfo), which CONTAINS one
// package per installed APK with a purl
// pkg:apk/alpine/NAME@VERSION?arch=ARCH&distro=alpine-X.Y&upstream=ORIGIN
// (grype matches Alpine's security data by origin, through upstream) and
// sourceInfo "built package from: ORIGIN VERSION" (trivy's source
// package). Dependencies are DEPENDS_ON relationships resolved against the
// installed set, provides included. The files no package owns (script
// effects, overlays, apk's own database, the report) are listed with
// their SHA1 and SHA256 and CONTAINed by the image.
//
// The same image gives the same bytes: the namespace is a version 5 UUID
// of the image's digest, created is the report's SOURCE_DATE_EPOCH (else
// the report's mtime, which is the filesystem's time), and packages,
// files and relationships are sorted.
//
// Left out on purpose: files a package owns (apk's database lists them;
// listing tens of thousands would bury the packages), checksums of owned
// files that an overlay replaced, devices, FIFOs and sockets (no content
// to hash), other SPDX versions and formats, and licence texts
// (LicenseRef- identifiers would need them, so an L: naming one is kept as
// a comment).
package sbom

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// MediaType is the media type of the document's JSON, for an OCI
// artifact or an HTTP response.
const MediaType = "application/spdx+json"

// The paths inside an image the document is made from.
const (
	installedPath = "lib/apk/db/installed"
	reportPath    = "usr/lib/rootfs-synth/report.json" // build.ReportPath, which imports this package's users
	osReleasePath = "etc/os-release"
)

// The largest of each read from an image: far above a real one (a
// 2,000-package database is a few MiB), low enough that a hostile image
// cannot make us allocate much (inspect's caps).
const (
	maxInstalledSize = 128 << 20
	maxReportSize    = 16 << 20
	maxOSReleaseSize = 64 << 10
)

// Document is an SPDX 2.3 document, as its JSON has it (the fields this
// package fills).
type Document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      CreationInfo   `json:"creationInfo"`
	Packages          []Package      `json:"packages"`
	Files             []File         `json:"files,omitempty"`
	Relationships     []Relationship `json:"relationships"`
}

// CreationInfo says when and by what the document was made.
type CreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
	Comment  string   `json:"comment,omitempty"`
}

// Package is an SPDX package: the image, the operating system or an APK.
type Package struct {
	SPDXID                string        `json:"SPDXID"`
	Name                  string        `json:"name"`
	VersionInfo           string        `json:"versionInfo,omitempty"`
	Supplier              string        `json:"supplier,omitempty"`
	DownloadLocation      string        `json:"downloadLocation"`
	FilesAnalyzed         bool          `json:"filesAnalyzed"`
	Checksums             []Checksum    `json:"checksums,omitempty"`
	Homepage              string        `json:"homepage,omitempty"`
	SourceInfo            string        `json:"sourceInfo,omitempty"`
	LicenseConcluded      string        `json:"licenseConcluded"`
	LicenseDeclared       string        `json:"licenseDeclared"`
	LicenseComments       string        `json:"licenseComments,omitempty"`
	CopyrightText         string        `json:"copyrightText"`
	Description           string        `json:"description,omitempty"`
	Comment               string        `json:"comment,omitempty"`
	ExternalRefs          []ExternalRef `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string        `json:"primaryPackagePurpose,omitempty"`
}

// Checksum is an algorithm (SHA1, SHA256) and a lowercase hex value.
type Checksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

// ExternalRef is a package's purl (category PACKAGE-MANAGER, type purl).
type ExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

// File is a file of the image that no package owns.
type File struct {
	SPDXID           string     `json:"SPDXID"`
	FileName         string     `json:"fileName"`
	Checksums        []Checksum `json:"checksums"`
	LicenseConcluded string     `json:"licenseConcluded"`
	CopyrightText    string     `json:"copyrightText"`
	Comment          string     `json:"comment,omitempty"`
}

// Relationship says how two elements relate (DESCRIBES, CONTAINS,
// DEPENDS_ON).
type Relationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

// WriteJSON writes the document as indented JSON. Characters such as <
// and > (in maintainers' addresses) are written as they are, not as
// \u003c: one setting, so the same document is always the same bytes.
func (d *Document) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// FromImage makes the document of the ext4 image file at imagePath (raw,
// not compressed): it reads the whole file once for its SHA-256, then the
// database, report and files it needs through ext4fs. The file must be a
// regular file.
func FromImage(ctx context.Context, imagePath string) (*Document, error) {
	fi, err := os.Stat(imagePath)
	if err != nil {
		return nil, fmt.Errorf("reading image: %w", err)
	}
	if !fi.Mode().IsRegular() {
		// Checked before the open, which would block on a FIFO.
		return nil, fmt.Errorf("reading image %s: %s, not a regular file", imagePath, unixmode.Kind(fi.Mode()))
	}
	f, err := os.Open(imagePath)
	if err != nil {
		return nil, fmt.Errorf("reading image: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading image %s: not a regular file", imagePath)
	}
	h := sha256.New()
	if _, err := io.Copy(h, imagefile.ContextReader(ctx, f)); err != nil {
		return nil, fmt.Errorf("reading image %s: %w", imagePath, err)
	}
	fsys, err := ext4fs.Open(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", imagePath, err)
	}
	doc, err := FromFS(ctx, fsys, "sha256:"+hex.EncodeToString(h.Sum(nil)))
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", imagePath, err)
	}
	return doc, nil
}

// FromFS makes the document of the image whose root filesystem fsys is
// (an ext4fs.FS, or a build's tree before it is written: rootfs.Tree.FS)
// and whose raw SHA-256 is imageDigest ("sha256:<hex>"). fsys must
// implement fs.ReadLinkFS and fs.ReadDirFS. An image without apk's
// database is an error; one without the build report gets no datahashes,
// download locations or SOURCE_DATE_EPOCH.
func FromFS(ctx context.Context, fsys fs.FS, imageDigest string) (*Document, error) {
	hexDigest, ok := strings.CutPrefix(imageDigest, "sha256:")
	if _, err := hex.DecodeString(hexDigest); !ok || err != nil || len(hexDigest) != 64 {
		return nil, fmt.Errorf("making the SBOM: image digest %q, want sha256:<64 hex digits>", imageDigest)
	}
	img, err := readImage(fsys)
	if err != nil {
		return nil, fmt.Errorf("making the SBOM: %w", err)
	}
	b := newBuilder(img, hexDigest)
	b.addPackages()
	if err := b.addFiles(ctx, fsys); err != nil {
		return nil, fmt.Errorf("making the SBOM: %w", err)
	}
	return b.document(), nil
}

// readFile reads name from fsys, following symlinks inside it (absolute
// targets start at its root), at most maxHops of them; a file of more
// than limit bytes (an image's inode may claim any size) is an error.
func readFile(fsys fs.FS, name string, limit int64) ([]byte, error) {
	const maxHops = 40
	for range maxHops {
		fi, err := fs.Lstat(fsys, name)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if fi.Size() > limit {
				return nil, fmt.Errorf("/%s is %d bytes, more than the %d a real one holds", name, fi.Size(), limit)
			}
			f, err := fsys.Open(name)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return io.ReadAll(io.LimitReader(f, limit))
		}
		target, err := fs.ReadLink(fsys, name)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(target, "/") {
			name = path.Clean(strings.TrimLeft(target, "/"))
		} else {
			name = path.Join(path.Dir(name), target)
		}
		for strings.HasPrefix(name, "../") { // above the root is the root
			name = name[len("../"):]
		}
		if name == ".." {
			name = "."
		}
	}
	return nil, errors.New("too many levels of symbolic links")
}

// fileSums are a file's SHA1 and SHA256, in SPDX's form.
func fileSums(r io.Reader) ([]Checksum, error) {
	s1, s256 := sha1.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(s1, s256), r); err != nil {
		return nil, err
	}
	return []Checksum{
		{Algorithm: "SHA1", ChecksumValue: hex.EncodeToString(s1.Sum(nil))},
		{Algorithm: "SHA256", ChecksumValue: hex.EncodeToString(s256.Sum(nil))},
	}, nil
}
