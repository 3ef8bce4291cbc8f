package build_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/build"
)

// Example builds an image, offline, from a signed repository it
// generates in a temporary directory: main and community of a mirror laid
// out in a directory, signed with a throwaway key that the build is told
// to trust.
func Example() {
	dir, err := os.MkdirTemp("", "build-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	mirror := filepath.Join(dir, "mirror")
	keys, err := writeMirror(mirror)
	if err != nil {
		log.Fatal(err)
	}

	res, err := build.Run(context.Background(), build.Options{
		Profile:  "none",
		Packages: []string{"hello"},
		Arch:     "x86_64",
		Mirrors:  []string{mirror},
		Keys:     keys,
		CacheDir: filepath.Join(dir, "cache"),
		Offline:  true,
		Output:   filepath.Join(dir, "alpine.ext4"),
		Time:     time.Unix(1750000000, 0), // as SOURCE_DATE_EPOCH
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range res.Report.Packages {
		fmt.Println("installed", p.Name, p.Version)
	}
	st, err := os.Stat(res.Report.Image.Path)
	fmt.Println("image is a file:", err == nil && st.Mode().IsRegular(), "of", res.Report.Image.BlockSize, "byte blocks")
	// Output:
	// installed hello-base 1.0-r0
	// installed hello 1.0-r0
	// image is a file: true of 4096 byte blocks
}

// writeMirror writes a mirror of two repositories into dir, main with
// hello and its dependency, community empty, and returns the key that
// signed them.
func writeMirror(dir string) (*apk.KeyRing, error) {
	key, err := apktest.FixedKey()
	if err != nil {
		return nil, err
	}
	main, community := apktest.NewRepo(key), apktest.NewRepo(key)
	community.Name = "community"
	for _, p := range []apktest.Pkg{
		{Name: "hello-base", Version: "1.0-r0", Files: []apktest.File{{Name: "etc/hello.conf", Data: []byte("greeting=hello\n")}}},
		{Name: "hello", Version: "1.0-r0", Depends: []string{"hello-base"},
			Files: []apktest.File{{Name: "usr/bin/hello", Data: []byte("#!/bin/sh\necho hello\n"), Mode: 0o755}}},
	} {
		if _, err := main.Add(p); err != nil {
			return nil, err
		}
	}
	for _, r := range []*apktest.Repo{main, community} {
		if err := r.WriteDir(dir); err != nil {
			return nil, err
		}
	}
	return key.KeyRing(), nil
}

// TestRunCanceledInProvision: a build canceled while the tree is
// provisioned returns an error that wraps the cancellation's cause, as it
// does when canceled in the fetch or the image write, and writes no image.
func TestRunCanceledInProvision(t *testing.T) {
	dir := t.TempDir()
	keys, err := writeMirror(filepath.Join(dir, "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted by SIGTERM")
	out := filepath.Join(dir, "alpine.ext4")
	_, err = build.Run(ctx, build.Options{
		Profile: "none", Packages: []string{"hello"}, Arch: "x86_64",
		Mirrors: []string{filepath.Join(dir, "mirror")}, Keys: keys, Offline: true,
		CacheDir: filepath.Join(dir, "cache"), Output: out,
		Progress: func(e build.Event) {
			if e.Phase == "provision" {
				cancel(cause)
			}
		},
	})
	if !errors.Is(err, cause) {
		t.Errorf("Run canceled in provision = %v, want an error wrapping %q", err, cause)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("Run canceled in provision wrote %s", out)
	}
}
