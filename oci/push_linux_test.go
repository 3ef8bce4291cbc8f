package oci_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/oci"
)

// TestPushPull pushes an image with an SBOM to a registry with and
// without the referrers API and pulls it back: byte for byte the image,
// sparse, passing e2fsck; the manifest is an OCI 1.1 artifact with the
// empty config and the annotations of the report in the image; a second
// push gives the same digests; both referrers are found, through the API
// or through the referrers tag (whose presence tells which path was
// taken).
func TestPushPull(t *testing.T) {
	ctx := context.Background()
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers-api=%v", api), func(t *testing.T) {
			host, _ := testRegistry(t, api)
			src := tempPath(t, "alpine.ext4")
			report := testImage(t, src, "x86_64", 1)
			ref := host + "/sandbox/alpine:v1"
			sbom := []byte(`{"spdxVersion":"SPDX-2.3"}`)
			images := []oci.Image{{Path: src, Referrers: []oci.Artifact{{ArtifactType: oci.SBOMArtifactType, Data: sbom}}}}
			first, err := oci.Push(ctx, ref, images, oci.PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			again, err := oci.Push(ctx, ref, images, oci.PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(first) != fmt.Sprint(again) {
				t.Errorf("second push = %+v, want the first's %+v", again, first)
			}
			if first.Index || len(first.Images) != 1 || first.Digest != first.Images[0].Digest || len(first.Images[0].Referrers) != 2 {
				t.Fatalf("push = %+v, want one image manifest with 2 referrers (SBOM, report)", first)
			}

			m := manifestOf(t, host+"/sandbox/alpine@"+first.Digest)
			wantAnn := map[string]string{
				oci.AnnotationArch: "x86_64", oci.AnnotationBranch: "v3.23", oci.AnnotationPackages: "2",
				oci.AnnotationCreated: "2026-11-01T12:00:00Z", oci.AnnotationFSUUID: "ab010304-0000-0000-0000-000000000000",
			}
			if m.ArtifactType != oci.ArtifactType || m.Config.MediaType != "application/vnd.oci.empty.v1+json" ||
				m.Config.Digest.Hex != "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" ||
				len(m.Layers) != 1 || m.Layers[0].MediaType != oci.LayerMediaType || fmt.Sprint(m.Annotations) != fmt.Sprint(wantAnn) {
				t.Errorf("manifest = %+v, want artifactType %s, the empty config, one %s layer, annotations %v", m, oci.ArtifactType, oci.LayerMediaType, wantAnn)
			}
			st, _ := os.Stat(src)
			wantLayer := map[string]string{oci.AnnotationTitle: "alpine.ext4.zst", oci.AnnotationImageSize: fmt.Sprint(st.Size()), oci.AnnotationImageDigest: fileDigest(t, src)}
			if len(m.Layers) == 1 && fmt.Sprint(m.Layers[0].Annotations) != fmt.Sprint(wantLayer) {
				t.Errorf("layer annotations = %v, want %v", m.Layers[0].Annotations, wantLayer)
			}

			dst := tempPath(t, "pulled.ext4")
			got, err := oci.Pull(ctx, ref, dst, oci.PullOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != first.Digest || got.Arch != "x86_64" || got.RawDigest != fileDigest(t, src) {
				t.Errorf("pull = %+v, want digest %s, arch x86_64, raw %s", got, first.Digest, fileDigest(t, src))
			}
			if d := fileDigest(t, dst); d != fileDigest(t, src) {
				t.Errorf("pulled image is %s, want the pushed %s", d, fileDigest(t, src))
			}
			checkSparse(t, dst)
			if err := e2fsck.Check(t, dst); err != nil {
				t.Error(err)
			}

			for _, tt := range []struct {
				artifactType string
				want         []byte
			}{{oci.ReportArtifactType, report}, {oci.SBOMArtifactType, sbom}} {
				data, err := oci.Referrer(ctx, ref, tt.artifactType, oci.PullOptions{})
				if err != nil || string(data) != string(tt.want) {
					t.Errorf("Referrer(%s) = %.40q, %v; want %.40q", tt.artifactType, data, err, tt.want)
				}
			}
			// The referrers tag exists exactly when the registry lacks the API.
			fallback := host + "/sandbox/alpine:" + strings.Replace(first.Digest, ":", "-", 1)
			_, err = remote.Get(mustRef(t, fallback))
			if tagged := err == nil; tagged == api {
				t.Errorf("referrers tag %s present = %v with the referrers API %v, want the opposite", fallback, tagged, api)
			}
		})
	}
}

// TestPullTamperedBlob: a registry that serves the layer with one byte
// flipped gets one error line naming the layer's digest (not zstd's CRC
// message), and no image is written.
func TestPullTamperedBlob(t *testing.T) {
	ctx := context.Background()
	host, tamper := testRegistry(t, false)
	src := tempPath(t, "alpine.ext4")
	testImage(t, src, "x86_64", 2)
	ref := host + "/sandbox/alpine:v1"
	pushed, err := oci.Push(ctx, ref, []oci.Image{{Path: src}}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	layer := manifestOf(t, host+"/sandbox/alpine@"+pushed.Digest).Layers[0].Digest.String()
	dst := tempPath(t, "pulled.ext4")
	// Negative control: untampered, the same pull works.
	if _, err := oci.Pull(ctx, ref, dst, oci.PullOptions{}); err != nil {
		t.Fatalf("untampered pull: %v", err)
	}
	os.Remove(dst)
	tamper()
	_, err = oci.Pull(ctx, ref, dst, oci.PullOptions{})
	t.Logf("tampered pull: %v", err)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "blob "+layer+" does not match its digest") || strings.Contains(err.Error(), "CRC") {
		t.Errorf("tampered pull = %v, want one line saying blob %s does not match its digest", err, layer)
	}
	if _, err := os.Lstat(dst); err == nil {
		t.Errorf("tampered pull left %s", dst)
	}
}

// TestIndexPerArch: an x86_64 and an aarch64 image push one index of
// linux/amd64 and linux/arm64, in arch order (pushed in the other order,
// the same index); a pull picks each by arch, and an arch the index lacks
// is an error naming the ones it has.
func TestIndexPerArch(t *testing.T) {
	ctx := context.Background()
	host, _ := testRegistry(t, true)
	srcs := map[string]string{"x86_64": tempPath(t, "x86_64.ext4"), "aarch64": tempPath(t, "aarch64.ext4")}
	testImage(t, srcs["x86_64"], "x86_64", 3)
	testImage(t, srcs["aarch64"], "aarch64", 4)
	ref := host + "/sandbox/alpine:multi"
	pushed, err := oci.Push(ctx, ref, []oci.Image{{Path: srcs["x86_64"]}, {Path: srcs["aarch64"]}}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !pushed.Index || len(pushed.Images) != 2 {
		t.Fatalf("push = %+v, want an index of 2 images", pushed)
	}
	again, err := oci.Push(ctx, host+"/sandbox/alpine:reversed", []oci.Image{{Path: srcs["aarch64"]}, {Path: srcs["x86_64"]}}, oci.PushOptions{})
	if err != nil || again.Digest != pushed.Digest {
		t.Errorf("push of the images in the other order = %+v, %v; want the same index %s", again, err, pushed.Digest)
	}
	idx, err := remote.Index(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.String()+" "+d.Annotations[oci.AnnotationArch]+" "+d.ArtifactType)
	}
	if want := "[linux/arm64/v8 aarch64 " + oci.ArtifactType + " linux/amd64 x86_64 " + oci.ArtifactType + "]"; fmt.Sprint(platforms) != want {
		t.Errorf("index platforms = %v, want %s", platforms, want)
	}
	for i, arch := range []string{"x86_64", "aarch64"} {
		if got, err := oci.Resolve(ctx, ref, oci.PullOptions{Arch: arch}); err != nil || got != pushed.Images[i].Ref {
			t.Errorf("Resolve(%s, %s) = %q, %v; want %s", ref, arch, got, err, pushed.Images[i].Ref)
		}
	}
	for arch, src := range srcs {
		dst := tempPath(t, arch+".ext4")
		got, err := oci.Pull(ctx, ref, dst, oci.PullOptions{Arch: arch})
		if err != nil {
			t.Fatalf("pull --arch %s: %v", arch, err)
		}
		if d := fileDigest(t, dst); got.Arch != arch || got.Index != pushed.Digest || d != fileDigest(t, src) {
			t.Errorf("pull --arch %s = %+v, image %s; want arch %s from index %s, image %s", arch, got, d, arch, pushed.Digest, fileDigest(t, src))
		}
	}
	_, err = oci.Pull(ctx, ref, tempPath(t, "x.ext4"), oci.PullOptions{Arch: "s390x"})
	if err == nil || !strings.Contains(err.Error(), `no image for s390x (it has "aarch64" ("linux/arm64/v8"), "x86_64" ("linux/amd64")`) {
		t.Errorf("pull --arch s390x = %v, want an error naming the index's arches", err)
	}
}

// TestPushReusesOwnZstd: a build's .zst (one frame) is pushed as it is,
// and gives the same layer as the raw image compressed by push; a .zst of
// two frames is recompressed (the negative control of the frame check),
// to the same layer again, and so is a .xz.
func TestPushReusesOwnZstd(t *testing.T) {
	ctx := context.Background()
	host, _ := testRegistry(t, true)
	dir := t.TempDir()
	raw, zst := dir+"/alpine.ext4", dir+"/alpine.ext4.zst"
	testImage(t, raw, "x86_64", 5)
	testImage(t, zst, "x86_64", 5)
	two := dir + "/two.ext4.zst"
	writeTwoFrames(t, raw, two)
	xz := dir + "/alpine.ext4.xz"
	testImage(t, xz, "x86_64", 5)
	layers := map[string]string{}
	for _, p := range []string{raw, zst, two, xz} {
		pushed, err := oci.Push(ctx, host+"/sandbox/reuse:latest", []oci.Image{{Path: p}}, oci.PushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		layers[p] = manifestOf(t, host+"/sandbox/reuse@"+pushed.Digest).Layers[0].Digest.String()
	}
	if layers[zst] != fileDigest(t, zst) {
		t.Errorf("layer of the build's .zst = %s, want the file as it is, %s", layers[zst], fileDigest(t, zst))
	}
	if layers[raw] != layers[zst] || layers[two] != layers[zst] || layers[xz] != layers[zst] {
		t.Errorf("layers: raw %s, .zst %s, two-frame .zst %s, .xz %s; want all the same", layers[raw], layers[zst], layers[two], layers[xz])
	}
	if layers[two] == fileDigest(t, two) {
		t.Errorf("the two-frame .zst was pushed as it is")
	}
}

// TestPushNeedsArch: an image without a build report needs its arch;
// given one, it is pushed with it.
func TestPushNeedsArch(t *testing.T) {
	ctx := context.Background()
	host, _ := testRegistry(t, true)
	src := tempPath(t, "bare.ext4")
	testImage(t, src, "", 6)
	ref := host + "/sandbox/bare:v1"
	_, err := oci.Push(ctx, ref, []oci.Image{{Path: src}}, oci.PushOptions{})
	if err == nil || !strings.Contains(err.Error(), "holds no build report at /usr/lib/rootfs-synth/report.json") {
		t.Errorf("push without arch = %v, want an error saying the image has no report", err)
	}
	pushed, err := oci.Push(ctx, ref, []oci.Image{{Path: src, Arch: "aarch64"}}, oci.PushOptions{Index: true})
	if err != nil {
		t.Fatal(err)
	}
	if !pushed.Index || pushed.Images[0].Arch != "aarch64" || len(pushed.Images[0].Referrers) != 0 {
		t.Errorf("push --arch aarch64 --platform = %+v, want an index of one aarch64 image without referrers", pushed)
	}
	m := manifestOf(t, host+"/sandbox/bare@"+pushed.Images[0].Digest)
	if got := m.Annotations[oci.AnnotationCreated]; got != sourceDate.Format(time.RFC3339) {
		t.Errorf("created = %q, want the superblock's creation time %s", got, sourceDate.Format(time.RFC3339))
	}
	if _, err := oci.Referrer(ctx, ref, oci.ReportArtifactType, oci.PullOptions{Arch: "aarch64"}); err == nil || !strings.Contains(err.Error(), "the image has none") {
		t.Errorf("Referrer(report) of an image without one = %v, want an error saying it has none", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func manifestOf(t *testing.T, ref string) *v1.Manifest {
	t.Helper()
	d, err := remote.Get(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSON[v1.Manifest](t, d.Manifest)
}

// checkSparse fails unless the file's allocated blocks (st_blocks) are
// well below its size: the test images hold 1 MiB of data in 32 MiB.
func checkSparse(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	allocated := fi.Sys().(*syscall.Stat_t).Blocks * 512
	if allocated > fi.Size()/4 {
		t.Errorf("%s: %d bytes allocated of %d, want it sparse", path, allocated, fi.Size())
	}
}

// TestReferrerChecksSubject: a referrers tag (an index anyone who can
// push may rewrite) that lists another image's SBOM for this one does not
// make Referrer return it: the manifest must name this image as its
// subject. The control: the other image's own SBOM is returned.
func TestReferrerChecksSubject(t *testing.T) {
	ctx := context.Background()
	host, _ := testRegistry(t, false) // the referrers tag scheme
	a, b := tempPath(t, "a.ext4"), tempPath(t, "b.ext4")
	testImage(t, a, "x86_64", 5)
	testImage(t, b, "x86_64", 6)
	sbom := []byte(`{"spdxVersion":"SPDX-2.3","name":"b"}`)
	pa, err := oci.Push(ctx, host+"/sandbox/a:v1", []oci.Image{{Path: a}}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := oci.Push(ctx, host+"/sandbox/a:v2", []oci.Image{{Path: b, Referrers: []oci.Artifact{{ArtifactType: oci.SBOMArtifactType, Data: sbom}}}}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := oci.Referrer(ctx, pb.Images[0].Ref, oci.SBOMArtifactType, oci.PullOptions{Arch: "x86_64"}); err != nil || string(got) != string(sbom) {
		t.Fatalf("the control: b's SBOM = %q, %v", got, err)
	}
	// b's SBOM, listed under a's referrers tag.
	var bSBOM v1.Descriptor
	bIdx, err := remote.Index(mustRef(t, host+"/sandbox/a:"+strings.Replace(pb.Images[0].Digest, ":", "-", 1)))
	if err != nil {
		t.Fatal(err)
	}
	bm, err := bIdx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bm.Manifests {
		if d.ArtifactType == oci.SBOMArtifactType {
			bSBOM = d
		}
	}
	aTag := mustRef(t, host+"/sandbox/a:"+strings.Replace(pa.Images[0].Digest, ":", "-", 1))
	aIdx, err := remote.Index(aTag)
	if err != nil {
		t.Fatal(err)
	}
	forged := mutate.AppendManifests(aIdx, mutate.IndexAddendum{Add: mustImage(t, host+"/sandbox/a@"+bSBOM.Digest.String()), Descriptor: bSBOM})
	if err := remote.WriteIndex(aTag, forged); err != nil {
		t.Fatal(err)
	}
	if got, err := oci.Referrer(ctx, pa.Images[0].Ref, oci.SBOMArtifactType, oci.PullOptions{Arch: "x86_64"}); err == nil {
		t.Errorf("Referrer of a, whose referrers tag lists b's SBOM = %q; want none", got)
	}
}

// mustImage is the image ref names in the registry.
func mustImage(t *testing.T, ref string) v1.Image {
	t.Helper()
	img, err := remote.Image(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
