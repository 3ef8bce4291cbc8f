package oci

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// PullOptions are the choices of Pull and Referrer. The zero value picks
// the host's arch from an index and uses the default keychain.
type PullOptions struct {
	// Arch is the Alpine arch to pick from an index; "" means the host's
	// (apk.HostArch). When set, an image manifest must be for it too.
	Arch string
	// Keychain gives the registry's credentials; nil means
	// authn.DefaultKeychain.
	Keychain authn.Keychain
	// Transport, when set, carries the requests.
	Transport http.RoundTripper
}

// Pulled is what Pull wrote.
type Pulled struct {
	// Ref is the image manifest by digest ("host/repo@sha256:..."): the
	// one to list referrers of.
	Ref    string
	Digest string // the image manifest's digest
	Index  string // the index's digest, when the reference named one
	Arch   string
	// Size and RawDigest are the raw image's, checked against the layer's annotations.
	Size      int64
	RawDigest string
	// Annotations are the image manifest's.
	Annotations map[string]string
}

// Pull downloads the image ref names (an image manifest, or an index from
// which it picks opts.Arch) into the file dst the way every output is
// written (internal/imagefile: a temporary file beside it, renamed over
// it; compressed again when dst ends in .zst or .xz), decompressing as it
// streams and leaving every zero 4 KiB block a hole. Every digest is
// checked: the manifest's and the layer's by what the registry sends, the
// raw image's size and digest by the layer's annotations; a blob that does
// not match is one error naming its digest.
func Pull(ctx context.Context, ref, dst string, opts PullOptions) (*Pulled, error) {
	ropts := remoteOptions(ctx, opts.Keychain, opts.Transport)
	r, err := resolve(ctx, ref, opts.Arch, ropts)
	if err != nil {
		return nil, err
	}
	m := r.manifest
	if len(m.Layers) != 1 || m.Layers[0].MediaType != LayerMediaType {
		return nil, fmt.Errorf("pulling %s: want one layer of %s, have %s", r.digest, LayerMediaType, layerTypes(m))
	}
	ld := m.Layers[0]
	size, err := strconv.ParseInt(ld.Annotations[AnnotationImageSize], 10, 64)
	if err != nil || size <= 0 || size > imagefile.MaxDecompressed {
		return nil, fmt.Errorf("pulling %s: layer annotation %s is %q, not a size (at most %d GiB)", r.digest, AnnotationImageSize, ld.Annotations[AnnotationImageSize], imagefile.MaxDecompressed>>30)
	}
	if ld.Size <= 0 {
		return nil, fmt.Errorf("pulling %s: the layer's size is %d", r.digest, ld.Size)
	}
	wantRaw, err := v1.NewHash(ld.Annotations[AnnotationImageDigest])
	if err != nil || wantRaw.Algorithm != "sha256" {
		return nil, fmt.Errorf("pulling %s: layer annotation %s is %q, not a sha256 digest", r.digest, AnnotationImageDigest, ld.Annotations[AnnotationImageDigest])
	}
	layer, err := remote.Layer(r.digest.Context().Digest(ld.Digest.String()), ropts...)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", r.digest, registryError(ctx, err))
	}
	err = imagefile.Write(ctx, dst, imagefile.Options{}, func(w io.WriteSeeker) error {
		rc, err := layer.Compressed()
		if err != nil {
			return registryError(ctx, err)
		}
		defer rc.Close()
		return unpackLayer(ctx, rc, ld, w, filepath.Dir(dst), size, wantRaw)
	})
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", r.digest, err)
	}
	return &Pulled{
		Ref: r.digest.String(), Digest: r.digest.DigestStr(), Index: r.index, Arch: m.Annotations[AnnotationArch],
		Size: size, RawDigest: wantRaw.String(), Annotations: m.Annotations,
	}, nil
}

// unpackLayer decompresses the blob rc, described by ld, into w as a
// sparse image of size bytes with digest wantRaw, writing no more data
// than the DiskBudget of dir (the output's). The blob's own digest
// is checked first, whatever else went wrong: a flipped byte usually
// breaks the zstd frame before the end, and "blob sha256:... does not
// match" says what happened where a decompressor's CRC error does not.
func unpackLayer(ctx context.Context, rc io.Reader, ld v1.Descriptor, w io.WriteSeeker, dir string, size int64, wantRaw v1.Hash) error {
	blobHash := sha256.New()
	// At most one byte more than the manifest says: a registry that sends
	// without end stops there (the digest then does not match).
	blob := io.TeeReader(io.LimitReader(imagefile.ContextReader(ctx, rc), ld.Size+1), blobHash)
	rawHash := sha256.New()
	sparse := imagefile.NewSparseWriter(w, dir)
	var n int64
	dec, err := zstd.NewReader(blob)
	if err == nil {
		// At most one byte more than announced: a blob that inflates
		// without end stops there.
		n, err = io.Copy(io.MultiWriter(sparse, rawHash), io.LimitReader(dec, size+1))
		dec.Close()
	}
	// Over the disk budget, the rest is not worth downloading: its
	// digest would not change the answer.
	if _, over := errors.AsType[*imagefile.BudgetError](err); over {
		return fmt.Errorf("decompressing blob %s: %w", ld.Digest, err)
	}
	// Read the rest so the blob's digest covers all of it (the registry
	// client checks it only at the end, too).
	_, drainErr := io.Copy(io.Discard, blob)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if got := fmt.Sprintf("sha256:%x", blobHash.Sum(nil)); got != ld.Digest.String() {
		return blobMismatch(ld.Digest, got)
	}
	if drainErr != nil && !errors.Is(drainErr, io.EOF) {
		return fmt.Errorf("reading blob %s: %w", ld.Digest, registryError(ctx, drainErr))
	}
	if err != nil {
		return fmt.Errorf("decompressing blob %s: %w", ld.Digest, err)
	}
	if got := fmt.Sprintf("sha256:%x", rawHash.Sum(nil)); n != size || got != wantRaw.String() {
		return fmt.Errorf("blob %s decompresses to %d bytes with digest %s, not the %d bytes of %s its annotations name", ld.Digest, n, got, size, wantRaw)
	}
	return sparse.Close()
}

// Resolve returns the image manifest ref names, by digest
// ("host/repo@sha256:..."): ref itself, or the entry for opts.Arch of the
// index it names (the host's arch when opts.Arch is ""). A caller that
// pulls an image and its referrers resolves once and uses the digest, so
// that a tag moved meanwhile cannot mix two images.
func Resolve(ctx context.Context, ref string, opts PullOptions) (string, error) {
	r, err := resolve(ctx, ref, opts.Arch, remoteOptions(ctx, opts.Keychain, opts.Transport))
	if err != nil {
		return "", err
	}
	return r.digest.String(), nil
}

// resolved is an image manifest a reference leads to.
type resolved struct {
	digest   name.Digest
	index    string // the index it was picked from, if any
	manifest *v1.Manifest
}

// resolve finds the image manifest ref names: ref itself, or the entry
// for arch of the index it names ("" picks the host's arch from an index
// and takes any image). The manifest must be one of ours.
func resolve(ctx context.Context, ref, arch string, ropts []remote.Option) (*resolved, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("pulling %q: %w", ref, err)
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", r, registryError(ctx, err))
	}
	out := &resolved{digest: r.Context().Digest(desc.Digest.String())}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("pulling %s: %w", r, registryError(ctx, err))
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("pulling %s: %w", r, registryError(ctx, err))
		}
		if arch == "" {
			arch = apk.HostArch()
		}
		child, err := pick(im, arch)
		if err != nil {
			return nil, fmt.Errorf("pulling %s: %w", r, err)
		}
		out.index = desc.Digest.String()
		out.digest = r.Context().Digest(child.Digest.String())
		if desc, err = remote.Get(out.digest, ropts...); err != nil {
			return nil, fmt.Errorf("pulling %s: %w", out.digest, registryError(ctx, err))
		}
	}
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("pulling %s: %q is not an image manifest", out.digest, desc.MediaType)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("pulling %s: manifest: %w", out.digest, quotedError{err})
	}
	if m.ArtifactType != ArtifactType {
		return nil, fmt.Errorf("pulling %s: artifactType %q is not a rootfs-synth image's (%s)", out.digest, m.ArtifactType, ArtifactType)
	}
	if err := apk.CheckArch(m.Annotations[AnnotationArch]); err != nil {
		return nil, fmt.Errorf("pulling %s: annotation %s: %w", out.digest, AnnotationArch, err)
	}
	if got := m.Annotations[AnnotationArch]; arch != "" && got != arch {
		return nil, fmt.Errorf("pulling %s: the image is for %s, not %s", out.digest, got, arch)
	}
	out.manifest = &m
	return out, nil
}

// pick returns the index entry for arch: by our arch annotation, else by
// the platform that arch maps to.
func pick(im *v1.IndexManifest, arch string) (*v1.Descriptor, error) {
	p := platformArch[arch]
	var have []string
	for i, d := range im.Manifests {
		if d.Annotations[AnnotationArch] == arch {
			return &im.Manifests[i], nil
		}
		if d.Platform != nil && d.Platform.OS == "linux" && p.arch != "" && d.Platform.Architecture == p.arch {
			return &im.Manifests[i], nil
		}
		s := "?"
		if d.Platform != nil {
			s = d.Platform.String()
		}
		s = strconv.Quote(s)
		if a := d.Annotations[AnnotationArch]; a != "" {
			s = fmt.Sprintf("%q (%s)", a, s)
		}
		have = append(have, s)
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("the index is empty")
	}
	return nil, fmt.Errorf("the index has no image for %s (it has %s; pick one with PullOptions.Arch)", arch, strings.Join(have, ", "))
}

func layerTypes(m *v1.Manifest) string {
	var ts []string
	for _, l := range m.Layers {
		ts = append(ts, strconv.Quote(string(l.MediaType)))
	}
	if len(ts) == 0 {
		return "none"
	}
	return strings.Join(ts, ", ")
}

// Referrer returns the data of the artifact of artifactType attached to
// the image ref names (resolved as Pull does): the layer of the first
// such referrer in digest order, checked against its digest. Referrers
// are listed with the registry's referrers API, else the referrers tag;
// an entry whose artifactType is missing, or the empty config's media
// type, is read from its own manifest. An image with none is an error.
func Referrer(ctx context.Context, ref, artifactType string, opts PullOptions) ([]byte, error) {
	ropts := remoteOptions(ctx, opts.Keychain, opts.Transport)
	r, err := resolve(ctx, ref, opts.Arch, ropts)
	if err != nil {
		return nil, err
	}
	fail := func(err error) error {
		return fmt.Errorf("fetching the %s referrer of %s: %w", artifactType, r.digest, err)
	}
	idx, err := remote.Referrers(r.digest, ropts...)
	if err != nil {
		return nil, fail(registryError(ctx, err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fail(registryError(ctx, err))
	}
	entries := slices.Clone(im.Manifests)
	slices.SortFunc(entries, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	for _, d := range entries {
		at := d.ArtifactType
		var m *v1.Manifest
		if at == "" || at == string(emptyConfig.MediaType) {
			if m, err = referrerManifest(r.digest.Context().Digest(d.Digest.String()), ropts); err != nil {
				return nil, fail(registryError(ctx, err))
			}
			at = cmp.Or(m.ArtifactType, string(m.Config.MediaType))
		}
		if at != artifactType {
			continue
		}
		if m == nil {
			if m, err = referrerManifest(r.digest.Context().Digest(d.Digest.String()), ropts); err != nil {
				return nil, fail(registryError(ctx, err))
			}
		}
		// The listing (a referrers tag is an index anyone who can push
		// may rewrite) is only a pointer: the manifest itself must say
		// it is of this type and refers to this image.
		if m.ArtifactType != artifactType && m.Config.MediaType != types.MediaType(artifactType) ||
			m.Subject == nil || m.Subject.Digest.String() != r.digest.DigestStr() {
			continue
		}
		if len(m.Layers) != 1 || m.Layers[0].Size > maxArtifactSize || m.Layers[0].Size < 0 {
			return nil, fail(fmt.Errorf("referrer %s: want one layer of at most %d MiB", d.Digest, maxArtifactSize>>20))
		}
		return readBlob(ctx, r.digest.Context(), m.Layers[0], ropts)
	}
	return nil, fail(fmt.Errorf("the image has none"))
}

// referrerManifest fetches the manifest d names.
func referrerManifest(d name.Digest, ropts []remote.Option) (*v1.Manifest, error) {
	desc, err := remote.Get(d, ropts...)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.DigestStr(), quotedError{err})
	}
	return &m, nil
}

// readBlob reads the small blob ld describes, checked against its digest.
func readBlob(ctx context.Context, repo name.Repository, ld v1.Descriptor, ropts []remote.Option) ([]byte, error) {
	l, err := remote.Layer(repo.Digest(ld.Digest.String()), ropts...)
	if err != nil {
		return nil, registryError(ctx, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, registryError(ctx, err)
	}
	defer rc.Close()
	h := sha256.New()
	b, err := io.ReadAll(io.TeeReader(io.LimitReader(imagefile.ContextReader(ctx, rc), ld.Size+1), h))
	if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != ld.Digest.String() {
		return nil, blobMismatch(ld.Digest, got)
	}
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", ld.Digest, registryError(ctx, err))
	}
	return b, nil
}

// blobMismatch is the one line of a blob whose content is not what its
// digest says: a registry, cache or proxy that changed it.
func blobMismatch(want v1.Hash, got string) error {
	return fmt.Errorf("blob %s does not match its digest: its content hashes to %s", want, got)
}
