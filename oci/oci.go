// Package oci ships rootfs-synth images through an OCI registry: Push
// uploads an ext4 image as an OCI 1.1 artifact, with the build report and
// any other artifact (an SBOM) attached as referrers; Pull downloads one
// into a sparse file, verifying every digest on the way; Resolve names
// the image a reference leads to by its digest, and Referrer fetches an
// artifact attached to it.
//
// An image is an OCI image manifest of artifactType ArtifactType whose
// config is the empty descriptor and whose one layer, of LayerMediaType,
// is the raw image compressed with zstd (one frame, see
// imagefile.NewZstdWriter), annotated with its file name and the raw
// image's size and digest. The manifest's annotations say what the image
// is: its arch, branch, package count, filesystem UUID and creation time,
// which is the build's SOURCE_DATE_EPOCH (never the clock: the same image
// pushed twice gives the same digests). They come from the build report
// stored in the image (reportPath) and its superblock. Several images push
// one OCI image index with a linux platform per arch (x86_64 is amd64,
// aarch64 arm64), the Alpine arch in an annotation of each entry.
//
// Referrers carry the image as their subject; a registry without the
// referrers API gets the referrers tag scheme (an index tagged
// sha256-<hex>), which go-containerregistry maintains. When listing them,
// an entry whose artifactType is missing or is the empty config's media
// type (what some registries report) is read from its own manifest.
//
// Credentials come from authn.DefaultKeychain (docker's config.json,
// $DOCKER_CONFIG, $REGISTRY_AUTH_FILE, containers' auth.json) unless the
// options name another keychain. As go-containerregistry does, a
// registry on localhost, a loopback or private (RFC 1918) address or a
// .local name is tried over https, then plain http; any other only over
// https.
//
// Left out on purpose: splitting an image into several layers (a
// compressed image is tens or hundreds of MiB, far below every registry's
// layer limit, and one blob keeps pulls simple), holding an image in
// memory (layers are files, read from disk each time the registry client
// asks), images as container images (KubeVirt's containerDisk is another
// shape), signing, and telling apart several artifacts of one type
// attached to one image (a referrer has no time of its own: Referrer
// takes the first in digest order).
package oci

import (
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rootfs-synth/rootfs-synth/build"
)

// Media types and artifact types of what Push writes.
const (
	// ArtifactType is the artifactType of an image's manifest.
	ArtifactType = "application/vnd.rootfs-synth.image.v1"
	// LayerMediaType is the media type of its one layer: the raw ext4
	// image compressed with zstd.
	LayerMediaType types.MediaType = "application/vnd.rootfs-synth.image.ext4.v1+zstd"
	// ReportArtifactType is the artifactType (and layer media type) of
	// the build report attached to an image.
	ReportArtifactType = "application/vnd.rootfs-synth.report.v1+json"
	// SBOMArtifactType is the artifactType (and layer media type) of an
	// SPDX JSON SBOM attached to an image.
	SBOMArtifactType = "application/spdx+json"
)

// Annotation keys of an image's manifest, its layer and its entry in an index.
const (
	AnnotationTitle       = "org.opencontainers.image.title"   // layer: the image's file name
	AnnotationCreated     = "org.opencontainers.image.created" // manifest: SOURCE_DATE_EPOCH, RFC 3339
	AnnotationImageSize   = "dev.rootfs-synth.image.size"      // layer: the raw image's size in bytes
	AnnotationImageDigest = "dev.rootfs-synth.image.digest"    // layer: the raw image's sha256 digest
	AnnotationArch        = "dev.rootfs-synth.arch"            // manifest and index entry: the Alpine arch
	AnnotationBranch      = "dev.rootfs-synth.branch"          // manifest: the Alpine branch, e.g. v3.23
	AnnotationPackages    = "dev.rootfs-synth.packages"        // manifest: how many packages are installed
	AnnotationFSUUID      = "dev.rootfs-synth.fs-uuid"         // manifest: the filesystem UUID
)

// reportPath is where the build stores its report inside the image.
const reportPath = build.ReportPath

// Limits of what is read whole into memory: the report from an image
// (about 300 bytes per package) and an artifact from a registry (a
// report or an SBOM: a few KiB per package).
const (
	maxReportSize   = 16 << 20
	maxArtifactSize = 64 << 20
)

// Artifact is a small file attached to an image as a referrer: an OCI
// image manifest of ArtifactType with the empty config and one layer of
// MediaType holding Data, annotated with Annotations.
type Artifact struct {
	ArtifactType string
	MediaType    string // the layer's; empty means ArtifactType
	Data         []byte
	Annotations  map[string]string
}

// keychain is k, or the default keychain when k is nil.
func keychain(k authn.Keychain) authn.Keychain {
	if k == nil {
		return authn.DefaultKeychain
	}
	return k
}

// platformArch maps Alpine's arch names to the platforms of an index.
var platformArch = map[string]struct{ arch, variant string }{
	"x86_64":      {"amd64", ""},
	"aarch64":     {"arm64", "v8"},
	"x86":         {"386", ""},
	"armv7":       {"arm", "v7"},
	"armhf":       {"arm", "v6"},
	"ppc64le":     {"ppc64le", ""},
	"s390x":       {"s390x", ""},
	"riscv64":     {"riscv64", ""},
	"loongarch64": {"loong64", ""},
}
