package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// emptyConfig is OCI 1.1's empty descriptor: the config of an artifact
// that has none.
var emptyConfig = v1.Descriptor{
	MediaType: "application/vnd.oci.empty.v1+json",
	Size:      2,
	Digest:    v1.Hash{Algorithm: "sha256", Hex: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
}

// artifactImage is an OCI image manifest with an artifactType, the empty
// config and one layer. go-containerregistry's mutate cannot make one (it
// keeps a Docker image config as the config blob), so it is a
// partial.CompressedImageCore of our own.
type artifactImage struct {
	manifest []byte
	layer    partial.CompressedLayer
}

// newArtifactImage returns the image of artifactType whose one layer is
// layer, with the layer and manifest annotations given and, when subject
// is not nil, that subject.
func newArtifactImage(artifactType string, layer partial.CompressedLayer, layerAnnotations, annotations map[string]string, subject *v1.Descriptor) (v1.Image, error) {
	d, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	size, err := layer.Size()
	if err != nil {
		return nil, err
	}
	mt, err := layer.MediaType()
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Config:        emptyConfig,
		Layers:        []v1.Descriptor{{MediaType: mt, Size: size, Digest: d, Annotations: layerAnnotations}},
		Annotations:   annotations,
		Subject:       subject,
	}
	raw, err := json.Marshal(m) // map keys sorted: the same manifest gives the same bytes
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&artifactImage{manifest: raw, layer: layer})
}

func (a *artifactImage) RawConfigFile() ([]byte, error)      { return []byte("{}"), nil }
func (a *artifactImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifactImage) RawManifest() ([]byte, error)        { return a.manifest, nil }

func (a *artifactImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if d, _ := a.layer.Digest(); d == h {
		return a.layer, nil
	}
	return nil, fmt.Errorf("artifact has no layer %s", h)
}

// fileLayer is a layer whose blob is a file, opened each time the
// registry client reads it (an upload may be retried), so that an image
// never sits in memory.
type fileLayer struct {
	path      string
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

// bytesLayer is a small layer held in memory: an artifact's data.
type bytesLayer struct {
	data      []byte
	digest    v1.Hash
	mediaType types.MediaType
}

func newBytesLayer(data []byte, mt types.MediaType) *bytesLayer {
	d, _, _ := v1.SHA256(bytes.NewReader(data)) // reading memory cannot fail
	return &bytesLayer{data: data, digest: d, mediaType: mt}
}

func (l *bytesLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *bytesLayer) Size() (int64, error)                { return int64(len(l.data)), nil }
func (l *bytesLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *bytesLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.data)), nil
}
