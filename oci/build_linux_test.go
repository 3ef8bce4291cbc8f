package oci_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/oci"
	"github.com/rootfs-synth/rootfs-synth/sbom"
)

// TestPushPullBuilds: images the build wrote for x86_64 and aarch64 (from
// generated repositories of each arch) push as one index and pull back
// per arch byte for byte; the manifest's filesystem UUID is the one the
// build reported (read back from the superblock) and its created time
// the build's SOURCE_DATE_EPOCH.
func TestPushPullBuilds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key, err := apktest.FixedKey()
	if err != nil {
		t.Fatal(err)
	}
	sde := time.Unix(1750000000, 0)
	images := map[string]string{}
	reports := map[string]*build.Report{}
	for _, arch := range []string{"x86_64", "aarch64"} {
		mirror := filepath.Join(dir, "mirror")
		main, community := apktest.NewRepo(key), apktest.NewRepo(key)
		community.Name = "community"
		main.Arch, community.Arch = arch, arch
		if _, err := main.Add(apktest.Pkg{Name: "hello", Version: "1.0-r0",
			Files: []apktest.File{{Name: "usr/bin/hello", Data: []byte("#!/bin/sh\necho hello from " + arch + "\n"), Mode: 0o755}}}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*apktest.Repo{main, community} {
			if err := r.WriteDir(mirror); err != nil {
				t.Fatal(err)
			}
		}
		images[arch] = filepath.Join(dir, arch+".ext4")
		res, err := build.Run(ctx, build.Options{
			Profile: "none", Packages: []string{"hello"}, Arch: arch, Mirrors: []string{mirror}, Keys: key.KeyRing(),
			CacheDir: filepath.Join(dir, "cache"), Offline: true, Output: images[arch], Time: sde,
		})
		if err != nil {
			t.Fatalf("building for %s: %v", arch, err)
		}
		reports[arch] = res.Report
	}
	host, _ := testRegistry(t, false)
	ref := host + "/sandbox/built:v1"
	pushed, err := oci.Push(ctx, ref, []oci.Image{{Path: images["x86_64"], Arch: "x86_64"}, {Path: images["aarch64"], Arch: "aarch64"}}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, arch := range []string{"x86_64", "aarch64"} {
		m := manifestOf(t, host+"/sandbox/built@"+pushed.Images[i].Digest)
		want := map[string]string{
			oci.AnnotationArch: arch, oci.AnnotationFSUUID: reports[arch].Image.UUID, oci.AnnotationCreated: sde.UTC().Format(time.RFC3339),
		}
		for k, v := range want {
			if m.Annotations[k] != v {
				t.Errorf("%s image: annotation %s = %q, want %q", arch, k, m.Annotations[k], v)
			}
		}
		if n := m.Annotations[oci.AnnotationPackages]; n != strconv.Itoa(len(reports[arch].Packages)) {
			t.Errorf("%s image: %s = %q, want %d", arch, oci.AnnotationPackages, n, len(reports[arch].Packages))
		}
		dst := filepath.Join(dir, "pulled-"+arch+".ext4")
		if _, err := oci.Pull(ctx, ref, dst, oci.PullOptions{Arch: arch}); err != nil {
			t.Fatal(err)
		}
		if got, want := fileDigest(t, dst), fileDigest(t, images[arch]); got != want {
			t.Errorf("pulled %s image = %s, want the built %s", arch, got, want)
		}
		checkSparse(t, dst)
		if err := e2fsck.Check(t, dst); err != nil {
			t.Error(err)
		}
		// Its SBOM, made by push from the image, is the one the build's
		// sbom.FromImage makes.
		got, err := oci.Referrer(ctx, ref, oci.SBOMArtifactType, oci.PullOptions{Arch: arch})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := sbom.FromImage(ctx, images[arch])
		if err != nil {
			t.Fatal(err)
		}
		var wantSBOM bytes.Buffer
		if err := doc.WriteJSON(&wantSBOM); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantSBOM.Bytes()) {
			t.Errorf("%s image: the pushed SBOM (%d bytes) is not sbom.FromImage's (%d bytes)", arch, len(got), wantSBOM.Len())
		}
	}
}
