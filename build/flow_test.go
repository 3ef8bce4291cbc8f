package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
	"github.com/rootfs-synth/rootfs-synth/provision"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// fakeProvision stands in for provision.Provision so that the steps
// around it run now: a tree holding one file per package, whose bytes
// are the package's .apk file (opened from PackageFiles, as the real
// tree opens its store). opened, when not nil, runs as a file's content
// is opened by the image writer.
func fakeProvision(opened func()) func(context.Context, provision.Options) (*provision.Result, error) {
	return func(ctx context.Context, opts provision.Options) (*provision.Result, error) {
		mtime := time.Unix(1700000000, 0)
		tree := rootfs.New(mtime)
		if err := tree.Add("pkgs", &rootfs.Node{Mode: fs.ModeDir | 0o755, ModTime: mtime}); err != nil {
			return nil, err
		}
		res := &provision.Result{Tree: tree, UUID: [16]byte{1, 2, 3}, HashSeed: [16]byte{4, 5, 6}, Time: mtime}
		for i, p := range opts.Packages {
			file := opts.PackageFiles[i]
			st, err := os.Stat(file)
			if err != nil {
				return nil, err
			}
			err = tree.Add("pkgs/"+p.Name+".apk", &rootfs.Node{Mode: 0o644, ModTime: mtime, Size: st.Size(),
				Content: func() (io.ReadCloser, error) {
					if opened != nil {
						opened()
					}
					return os.Open(file)
				}})
			if err != nil {
				return nil, err
			}
			res.Packages = append(res.Packages, provision.PackageReport{Name: p.Name, Version: p.Version, Size: p.Size, Checksum: apk.FormatChecksum(p.Checksum)})
			res.UnpackedBytes += st.Size()
		}
		res.Files = tree.Len()
		return res, nil
	}
}

// flowBuilder is a builder as newBuilder makes it from Options, against
// a repository served on 127.0.0.1, with the provision stand-in.
func flowBuilder(t *testing.T, output string, opened func()) *builder {
	t.Helper()
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	repo := apktest.NewRepo(key)
	for _, p := range []apktest.Pkg{
		{Name: "base", Version: "1.0-r0", Files: []apktest.File{{Name: "etc/base", Data: []byte("base\n")}}},
		{Name: "app", Version: "0.9-r0", Depends: []string{"base"}, Files: []apktest.File{{Name: "usr/bin/app", Data: bytes.Repeat([]byte("app\n"), 50000)}}},
	} {
		if _, err := repo.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(repo.Handler())
	t.Cleanup(srv.Close)
	r, err := apk.ParseRepository(repo.URL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	world := []apk.Dependency{{Name: "app"}}
	return &builder{
		sel:           &selection{branch: "v3.23", arch: "x86_64", world: world, requested: world, repos: []apk.Repository{r}},
		client:        &apk.Client{CacheDir: t.TempDir(), Keys: key.KeyRing(), Arch: "x86_64", HTTP: http.DefaultClient},
		output:        output,
		reportPath:    output + ".json",
		progress:      func(Event) {},
		provisionTree: fakeProvision(opened),
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestBuildFlow: the build's steps around provision — resolve, fetch,
// image write, report — give an e2fsck-clean image holding the tree, and
// a report (returned and written) with the packages, the image and every
// phase.
func TestBuildFlow(t *testing.T) {
	for _, name := range []string{"img.ext4", "img.ext4.zst"} {
		dir := t.TempDir()
		out := filepath.Join(dir, name)
		b := flowBuilder(t, out, nil)
		ret, err := b.run(context.Background())
		if err != nil {
			t.Fatalf("build(%s): %v", name, err)
		}
		if got := strings.Join(dirNames(t, dir), " "); got != name+" "+name+".json" {
			t.Errorf("build(%s) left %q, want the image and its report", name, got)
		}
		f, err := os.Open(out + ".json")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ReadReport(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var phases []string
		for _, p := range rep.Phases {
			phases = append(phases, p.Name)
		}
		if len(rep.Packages) != 2 || len(ret.Packages) != 2 || ret.Image == nil || ret.Image.Path != out || ret.Image.Size == 0 || ret.Image.AllocatedBytes == 0 {
			t.Errorf("build(%s) returned %d packages and image %+v, wrote %d packages; want 2, the image with its sizes", name, len(ret.Packages), ret.Image, len(rep.Packages))
		}
		if rep.Image == nil || rep.Image.Path != out || rep.Image.UUID != "01020300-0000-0000-0000-000000000000" ||
			strings.Join(phases, " ") != "resolve fetch provision write" {
			t.Errorf("build(%s): report image %+v, phases %q; want the image with the provisioned UUID, and the 4 phases", name, rep.Image, phases)
		}
		// The digest is the raw image's; a compressed file has its own.
		rawDigest := fileDigest(t, out)
		if name != "img.ext4" {
			rawDigest = zstdDigest(t, out)
		}
		if ret.Image.Digest != rawDigest {
			t.Errorf("build(%s): image digest %q, want the raw image's %s", name, ret.Image.Digest, rawDigest)
		}
		if want := map[bool]string{true: fileDigest(t, out)}[name != "img.ext4"]; ret.Image.CompressedDigest != want {
			t.Errorf("build(%s): compressed digest %q, want %q", name, ret.Image.CompressedDigest, want)
		}
		if name != "img.ext4" {
			continue
		}
		if err := e2fsck.Check(t, out); err != nil {
			t.Fatal(err)
		}
		got, err := ext4check.ReadImage(t, out)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/pkgs/base.apk", "/pkgs/app.apk", ReportPath} {
			if n := got[p]; n == nil || n.Size == 0 {
				t.Errorf("the image lacks %s: %+v", p, n)
			}
		}
		for _, p := range rep.Packages {
			if len(p.DataHash) != 64 {
				t.Errorf("build(%s): package %s has datahash %q, want 64 hex digits", name, p.Name, p.DataHash)
			}
		}
	}
}

// TestBuildFlowInterrupted: a build canceled in the image write returns
// the cancellation's cause and leaves neither image, temporary file nor
// report.
func TestBuildFlowInterrupted(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted by SIGINT")
	b := flowBuilder(t, filepath.Join(dir, "img.ext4"), func() { cancel(cause) })
	if _, err := b.run(ctx); !errors.Is(err, cause) {
		t.Errorf("build canceled in the image write = %v, want the cause", err)
	}
	if got := dirNames(t, dir); len(got) > 0 {
		t.Errorf("a canceled build left %q", got)
	}
}

// TestBuildFlowReportRolledBack: the report goes into place before the
// image; when the image then cannot (here a directory took its name
// during the build), the old report is put back and no temporary file
// is left. The control: the same build without the intruder writes both.
func TestBuildFlowReportRolledBack(t *testing.T) {
	for _, intrude := range []bool{true, false} {
		dir := t.TempDir()
		out := filepath.Join(dir, "img.ext4")
		if err := os.WriteFile(out+".json", []byte("old report"), 0o644); err != nil {
			t.Fatal(err)
		}
		b := flowBuilder(t, out, func() {
			if intrude {
				os.Mkdir(out, 0o755)
			}
		})
		_, err := b.run(context.Background())
		got, _ := os.ReadFile(out + ".json")
		if !intrude {
			if err != nil || string(got) == "old report" {
				t.Errorf("build = %v, report %q; want no error and a new report", err, got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "a directory") {
			t.Errorf("build with a directory at the image's name = %v, want it refused", err)
		}
		if string(got) != "old report" {
			t.Errorf("after the refused image the report holds %q, want the old report", got)
		}
		if got := strings.Join(dirNames(t, dir), " "); got != "img.ext4 img.ext4.json" {
			t.Errorf("after the refused image the directory holds %q, want only the intruder and the old report", got)
		}
	}
}

func fileDigest(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func zstdDigest(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := sha256.New()
	if _, err := io.Copy(h, d); err != nil {
		t.Fatal(err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// TestProvisionStatsScripts: the provision phase's Stats count a script
// stored for the first boot as Deferred, not as NotReproduced, and leave
// out what was reproduced or did nothing. (TestBuildDeferredScripts in
// cmd/rootfs-synth checks NoDeferredScripts end to end.)
func TestProvisionStatsScripts(t *testing.T) {
	b := flowBuilder(t, filepath.Join(t.TempDir(), "img.ext4"), nil)
	fake := b.provisionTree
	b.provisionTree = func(ctx context.Context, o provision.Options) (*provision.Result, error) {
		res, err := fake(ctx, o)
		if err == nil {
			res.Scripts = []provision.ScriptReport{
				{Package: "a-1", Script: ".post-install", Status: "reproduced"},
				{Package: "b-1", Script: ".post-install", Status: "no-op"},
				{Package: "c-1", Script: ".trigger", Status: "deferred"},
				{Package: "d-1", Script: ".post-install", Status: "not-reproduced"},
			}
		}
		return res, err
	}
	var stats *Stats
	b.progress = func(e Event) {
		if e.Phase == "provision" && e.Stats != nil {
			stats = e.Stats
		}
	}
	if _, err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if stats == nil || len(stats.Deferred) != 1 || stats.Deferred[0].Package != "c-1" ||
		len(stats.NotReproduced) != 1 || stats.NotReproduced[0].Package != "d-1" {
		t.Errorf("provision Stats = %+v, want c-1 deferred and d-1 alone not reproduced", stats)
	}
}
