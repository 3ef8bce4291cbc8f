package oci

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rootfs-synth/rootfs-synth/internal/registrytest"
)

// TestPullChecksAnnotations: a layer whose blob is what its digest says
// but whose annotations name another raw size or digest is refused, and
// leaves no file; a size past MaxDecompressed is refused before a byte is
// written. The control: the true annotations pull.
func TestPullChecksAnnotations(t *testing.T) {
	reg := registrytest.Serve(t, false)
	raw := bytes.Repeat([]byte{7}, 3*4096)
	blob := bytes.NewBuffer(zstdBlob(t, raw))
	rawDigest, _, _ := v1.SHA256(bytes.NewReader(raw))
	otherDigest, _, _ := v1.SHA256(strings.NewReader("another image"))
	for _, tt := range []struct {
		name, size, digest, want string
	}{
		{"true", strconv.Itoa(len(raw)), rawDigest.String(), ""},
		{"size", strconv.Itoa(len(raw) - 1), rawDigest.String(), "not the 12287 bytes of"},
		{"digest", strconv.Itoa(len(raw)), otherDigest.String(), "with digest " + rawDigest.String()},
		{"huge", "1125899906842624", rawDigest.String(), "not a size"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img, err := newArtifactImage(ArtifactType, newBytesLayer(blob.Bytes(), LayerMediaType),
				map[string]string{AnnotationImageSize: tt.size, AnnotationImageDigest: tt.digest},
				map[string]string{AnnotationArch: "x86_64"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ref := fmt.Sprintf("%s/sandbox/crafted:%s", reg.Host, tt.name)
			r, err := name.ParseReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(r, img); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "out.ext4")
			_, err = Pull(context.Background(), ref, dst, PullOptions{Arch: "x86_64"})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("pull of the true annotations = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("pull with a lying %s annotation = %v, want an error containing %q", tt.name, err, tt.want)
			case tt.want != "":
				if _, err := os.Lstat(dst); err == nil {
					t.Errorf("pull with a lying %s annotation left %s", tt.name, dst)
				}
			}
		})
	}
}
