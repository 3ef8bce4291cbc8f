package oci_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rootfs-synth/rootfs-synth/oci"
)

// cancelOnBlob cancels the context as soon as the body of a request
// for a blob is read (an upload's PATCH or a download's GET): an
// interrupt in the middle of the big transfer.
type cancelOnBlob struct{ cancel context.CancelFunc }

func (c cancelOnBlob) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch {
		c.cancel()
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
		resp.Body = readCanceler{resp.Body, c.cancel}
	}
	return resp, err
}

type readCanceler struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (r readCanceler) Read(p []byte) (int, error) {
	r.cancel()
	return r.ReadCloser.Read(p)
}

// TestCanceled: a push or pull interrupted in the middle of its transfer
// returns the context's error and leaves no file behind: no temporary
// layer of push, no image nor temporary file of pull.
func TestCanceled(t *testing.T) {
	host, _ := testRegistry(t, false)
	src := tempPath(t, "alpine.ext4")
	testImage(t, src, "x86_64", 7)
	ref := host + "/sandbox/cancel:v1"

	temp := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := oci.Push(ctx, ref, []oci.Image{{Path: src}}, oci.PushOptions{TempDir: temp, Transport: cancelOnBlob{cancel}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted push = %v, want context.Canceled", err)
	}
	checkEmpty(t, temp)

	if _, err := oci.Push(context.Background(), ref, []oci.Image{{Path: src}}, oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel = context.WithCancel(context.Background())
	_, err = oci.Pull(ctx, ref, filepath.Join(out, "pulled.ext4"), oci.PullOptions{Transport: cancelOnBlob{cancel}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted pull = %v, want context.Canceled", err)
	}
	checkEmpty(t, out)
}

func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s left behind", filepath.Join(dir, e.Name()))
	}
}

// TestPullRefusesOtherImages: a container image is not pulled as a disk
// image: the error names the artifactType it has.
func TestPullRefusesOtherImages(t *testing.T) {
	host, _ := testRegistry(t, true)
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/library/busybox:latest"
	if err := remote.Write(mustRef(t, ref), img); err != nil {
		t.Fatal(err)
	}
	dst := tempPath(t, "x.ext4")
	_, err = oci.Pull(context.Background(), ref, dst, oci.PullOptions{})
	if err == nil || !strings.Contains(err.Error(), `artifactType "" is not a rootfs-synth image's`) {
		t.Errorf("pull of a container image = %v, want an error naming its artifactType", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		t.Errorf("pull of a container image wrote %s", dst)
	}
}
