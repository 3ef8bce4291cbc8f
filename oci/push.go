package oci

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image is one image file to push.
type Image struct {
	// Path is the image: raw ext4, or zstd or xz of it. A zstd file of one
	// frame (what the build writes to a .zst) is pushed as it is; anything
	// else is compressed with imagefile.NewZstdWriter into a temporary
	// file first.
	Path string
	// Arch is the image's Alpine arch. An image that holds the build
	// report (at /usr/lib/rootfs-synth/report.json) takes it from there,
	// and Arch, when set, must agree; an image without one needs it.
	Arch string
	// Referrers are attached to the image (their subject). The build
	// report stored in the image is attached too, as ReportArtifactType,
	// and its SPDX document (sbom.FromFS), as SBOMArtifactType, unless
	// Referrers holds one of that type (an image without apk's database
	// gets no SBOM).
	Referrers []Artifact
}

// PushOptions are the choices of Push. The zero value pushes one image as
// an image manifest and several as an index, with the default keychain.
type PushOptions struct {
	// Index pushes an index even for one image.
	Index bool
	// Keychain gives the registry's credentials; nil means
	// authn.DefaultKeychain.
	Keychain authn.Keychain
	// Transport, when set, carries the requests (http.DefaultTransport
	// otherwise).
	Transport http.RoundTripper
	// TempDir holds the compressed layers being pushed; "" means
	// os.TempDir().
	TempDir string
}

// Pushed is what Push put in the registry.
type Pushed struct {
	// Digest is what the reference now names: the image's manifest, or
	// the index; Ref is the repository at that digest
	// ("host/repo@sha256:...").
	Digest, Ref string
	// Index tells whether Digest is an index's.
	Index bool
	// Images are the images' manifests, in the order given.
	Images []PushedImage
}

// PushedImage is one pushed image.
type PushedImage struct {
	Arch      string
	Digest    string   // the image manifest's
	Ref       string   // the repository at Digest
	Referrers []string // the referrers' manifests, in the order attached
}

// Push uploads images to the registry and tags them as ref ("host/repo:tag"):
// one image as an image manifest (unless opts.Index), several as an index
// of one platform each, every image's referrers attached. Pushing the same
// images again gives the same digests, and uploads only what the registry
// lacks. Errors name the image or reference, and quote what a registry said.
func Push(ctx context.Context, ref string, images []Image, opts PushOptions) (*Pushed, error) {
	tag, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("pushing to %q: %w", ref, err)
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("pushing to %s: no image", tag)
	}
	ropts := remoteOptions(ctx, opts.Keychain, opts.Transport)
	var locals []*localImage
	defer func() {
		for _, l := range locals {
			l.remove()
		}
	}()
	arches := map[string]string{}
	for _, im := range images {
		l, err := openLocal(ctx, im.Path, im.Arch, opts.TempDir, !hasArtifact(im.Referrers, SBOMArtifactType))
		if err != nil {
			return nil, err
		}
		locals = append(locals, l)
		if other, ok := arches[l.arch]; ok {
			return nil, fmt.Errorf("pushing to %s: images %s and %s are both for %s: an index holds one image per arch", tag, other, im.Path, l.arch)
		}
		arches[l.arch] = im.Path
	}
	index := opts.Index || len(images) > 1
	for _, l := range locals {
		if _, ok := platformArch[l.arch]; index && !ok {
			return nil, fmt.Errorf("pushing %s: arch %q has no OCI platform for an index", l.path, l.arch)
		}
	}
	out := &Pushed{Index: index}
	var adds []mutate.IndexAddendum
	for i, l := range locals {
		img, err := newArtifactImage(ArtifactType, l.layer, map[string]string{
			AnnotationTitle:       l.title,
			AnnotationImageSize:   strconv.FormatInt(l.rawSize, 10),
			AnnotationImageDigest: l.rawDigest.String(),
		}, l.annotations, nil)
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", l.path, err)
		}
		desc, err := partial.Descriptor(img)
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", l.path, err)
		}
		pi := PushedImage{Arch: l.arch, Digest: desc.Digest.String(), Ref: tag.Context().Digest(desc.Digest.String()).String()}
		// By digest first, so that the referrers have their subject and
		// an index its children; the tag comes last.
		if err := remote.Write(tag.Context().Digest(desc.Digest.String()), img, ropts...); err != nil {
			return nil, fmt.Errorf("pushing %s to %s: %w", l.path, tag.Context(), registryError(ctx, err))
		}
		subject := &v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest, ArtifactType: ArtifactType}
		for _, a := range referrersOf(images[i].Referrers, l) {
			d, err := pushReferrer(ctx, tag.Context(), a, subject, l.annotations[AnnotationCreated], ropts)
			if err != nil {
				return nil, fmt.Errorf("attaching %s to %s@%s: %w", a.ArtifactType, tag.Context(), desc.Digest, err)
			}
			pi.Referrers = append(pi.Referrers, d)
		}
		out.Images = append(out.Images, pi)
		if !index {
			if err := remote.Write(tag, img, ropts...); err != nil {
				return nil, fmt.Errorf("tagging %s: %w", tag, registryError(ctx, err))
			}
			out.Digest, out.Ref = pi.Digest, pi.Ref
			return out, nil
		}
		p := platformArch[l.arch]
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "linux", Architecture: p.arch, Variant: p.variant},
			Annotations: map[string]string{AnnotationArch: l.arch},
		}})
	}
	// In arch order, whatever the order given: the same images make
	// the same index.
	slices.SortFunc(adds, func(a, b mutate.IndexAddendum) int {
		return strings.Compare(a.Descriptor.Annotations[AnnotationArch], b.Descriptor.Annotations[AnnotationArch])
	})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	d, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("pushing the index to %s: %w", tag, err)
	}
	if err := remote.WriteIndex(tag, idx, ropts...); err != nil {
		return nil, fmt.Errorf("pushing the index to %s: %w", tag, registryError(ctx, err))
	}
	out.Digest, out.Ref = d.String(), tag.Context().Digest(d.String()).String()
	return out, nil
}

// referrersOf is what to attach to the image l: the artifacts given,
// plus its own report unless they hold a report, and the SBOM push made.
func referrersOf(given []Artifact, l *localImage) []Artifact {
	all := given[:len(given):len(given)]
	if l.report != nil && !hasArtifact(given, ReportArtifactType) {
		all = append(all, Artifact{ArtifactType: ReportArtifactType, Data: l.report})
	}
	if l.sbom != nil {
		all = append(all, Artifact{ArtifactType: SBOMArtifactType, Data: l.sbom})
	}
	return all
}

// hasArtifact reports whether one of as is of artifactType.
func hasArtifact(as []Artifact, artifactType string) bool {
	return slices.ContainsFunc(as, func(a Artifact) bool { return a.ArtifactType == artifactType })
}

// pushReferrer pushes a as an artifact whose subject is subject, by its
// digest, and returns that digest. Its created annotation is the
// subject's (never the clock: the same artifact gives the same digest).
func pushReferrer(ctx context.Context, repo name.Repository, a Artifact, subject *v1.Descriptor, created string, ropts []remote.Option) (string, error) {
	mt := a.MediaType
	if mt == "" {
		mt = a.ArtifactType
	}
	annotations := map[string]string{}
	if created != "" {
		annotations[AnnotationCreated] = created
	}
	for k, v := range a.Annotations {
		annotations[k] = v
	}
	img, err := newArtifactImage(a.ArtifactType, newBytesLayer(a.Data, types.MediaType(mt)), nil, annotations, subject)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	if err := remote.Write(repo.Digest(d.String()), img, ropts...); err != nil {
		return "", registryError(ctx, err)
	}
	return d.String(), nil
}

// remoteOptions are the options of every request to a registry.
func remoteOptions(ctx context.Context, k authn.Keychain, t http.RoundTripper) []remote.Option {
	o := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain(k)), remote.WithUserAgent("rootfs-synth")}
	if t != nil {
		o = append(o, remote.WithTransport(t))
	}
	return o
}

// registryError quotes what the registry client says, which carries the
// registry's own words, or gives the context's cause when ctx ended it.
func registryError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return quotedError{err}
}

type quotedError struct{ err error }

func (q quotedError) Error() string { return strconv.Quote(q.err.Error()) }
func (q quotedError) Unwrap() error { return q.err }
