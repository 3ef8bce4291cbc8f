package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// build is the whole of `rootfs-synth [flags]`, in the order of its
// steps: resolve the world to packages, fetch them verified into the
// cache, provision the root tree (unpack, script effects, apk database,
// overlays), write the image. Each step is timed into the report. The
// report goes into place before the image does: a report that cannot be
// written leaves the old image as it was.
func build(ctx context.Context, b *builder) error {
	pkgs, err := b.resolve(ctx)
	if err != nil {
		return fmt.Errorf("resolving packages: %w", err)
	}
	paths, err := b.fetch(ctx, pkgs)
	if err != nil {
		return fmt.Errorf("fetching packages: %w", err)
	}
	res, img, err := b.provisionAndWrite(ctx, pkgs, paths)
	if err != nil {
		return err
	}
	defer res.Close()
	defer img.file.Discard()
	rep := b.newReport(res)
	settleReport, err := b.writeReport(rep, img.image)
	if err != nil {
		return fmt.Errorf("writing report %s: %w", b.reportPath, err)
	}
	err = img.file.Commit(ctx)
	settleReport(err == nil)
	if err != nil {
		return err
	}
	b.summary(rep, img.image)
	return nil
}

// provisionAndWrite provisions the root tree and writes the image. Stored
// content found changed, while the tree is provisioned (account files,
// applet lists) or as the image is written, has made the store forget its
// package, so both steps run once more, unpacking it again from its
// verified .apk; the first image's temporary file is gone by then.
func (b *builder) provisionAndWrite(ctx context.Context, pkgs []*apk.Package, paths []string) (*provision.Result, *stagedImage, error) {
	phases := len(b.phases)
	for attempt := 1; ; attempt++ {
		b.phases = b.phases[:phases] // the report times the attempt that made the image
		res, img, err := b.provisionAndWriteOnce(ctx, pkgs, paths)
		var corrupt *provision.StoreCorruptError
		if err == nil || attempt > 1 || !errors.As(err, &corrupt) {
			return res, img, err
		}
		b.ui.logf("%v; provisioning again from the verified packages", corrupt)
	}
}

func (b *builder) provisionAndWriteOnce(ctx context.Context, pkgs []*apk.Package, paths []string) (*provision.Result, *stagedImage, error) {
	res, err := b.provision(ctx, pkgs, paths)
	if err != nil {
		return nil, nil, fmt.Errorf("provisioning the root tree: %w", err)
	}
	img, err := b.writeImage(ctx, res)
	if err != nil {
		res.Close()
		return nil, nil, err // naming the image
	}
	return res, img, nil
}

// phase times one step into b.phases; call the result when it ends.
func (b *builder) phase(name string) func() time.Duration {
	start := time.Now()
	return func() time.Duration {
		d := time.Since(start)
		b.phases = append(b.phases, PhaseReport{Name: name, Seconds: d.Seconds()})
		return d
	}
}

// resolve fetches the repositories' indexes and solves the world.
func (b *builder) resolve(ctx context.Context) ([]*apk.Package, error) {
	done := b.phase("resolve")
	pkgs, _, err := resolveSelection(ctx, b.client, b.sel)
	if err != nil {
		return nil, err
	}
	var size int64
	for _, p := range pkgs {
		size += p.Size
	}
	b.ui.logf("resolve: %d packages (%s) from %d repositories in %s", len(pkgs), sizeString(size), len(b.sel.repos), roundDuration(done()))
	return pkgs, nil
}

// resolveSelection is the resolve step, shared with `fetch`: the packages
// in install order and the indexes they were chosen from.
func resolveSelection(ctx context.Context, c *apk.Client, sel *selection) ([]*apk.Package, []*apk.Index, error) {
	indexes, err := c.FetchIndexes(ctx, sel.repos)
	if err != nil {
		return nil, nil, err
	}
	pkgs, err := apk.Solve(sel.world, indexes, apk.SolveOptions{Arch: c.Arch})
	if err != nil {
		return nil, nil, err
	}
	if err := sel.checkLock(pkgs, c.Arch); err != nil {
		return nil, nil, err
	}
	return pkgs, indexes, nil
}

// fetch downloads and verifies the packages into the cache.
func (b *builder) fetch(ctx context.Context, pkgs []*apk.Package) ([]string, error) {
	done := b.phase("fetch")
	cached := cachedPackages(b.client, pkgs)
	b.ui.startFetch(pkgs, cached)
	paths, err := b.client.FetchPackages(ctx, pkgs)
	b.ui.endBars(err == nil)
	if err != nil {
		return nil, err
	}
	var downloaded int64
	for _, p := range pkgs {
		if !cached[p.String()] {
			downloaded += p.Size
		}
	}
	b.ui.logf("fetch: %d packages, %d from the cache, %s downloaded, in %s", len(pkgs), len(cached), sizeString(downloaded), roundDuration(done()))
	return paths, nil
}

// cachedPackages names (name-version) the packages whose file is in the
// cache before the fetch, to tell a person what was downloaded.
func cachedPackages(c *apk.Client, pkgs []*apk.Package) map[string]bool {
	cached := make(map[string]bool)
	for _, p := range pkgs {
		if c.IsCached(p) {
			cached[p.String()] = true
		}
	}
	return cached
}

// provision builds the root tree from the verified packages.
func (b *builder) provision(ctx context.Context, pkgs []*apk.Package, paths []string) (*provision.Result, error) {
	done := b.phase("provision")
	b.ui.startBars()
	res, err := b.provisionTree(ctx, provision.Options{
		Arch:           b.client.Arch,
		World:          b.sel.requested,
		Packages:       pkgs,
		PackageFiles:   paths,
		StoreDir:       b.storeDir,
		Repositories:   b.sel.guestRepositories(),
		Keys:           b.client.Keys,
		Time:           b.sourceDate,
		Overlays:       b.overlays,
		AuthorizedKeys: b.authorizedKeys,
		Hostname:       b.hostname,
		RootShell:      b.rootShell,
		Strict:         b.strict,
		Progress:       b.ui.provisionEvent,
	})
	b.ui.endBars(err == nil)
	if err != nil {
		return nil, err
	}
	notReproduced := 0
	for _, s := range res.Scripts {
		if s.Status == "not-reproduced" {
			notReproduced++
			b.ui.debugf("provision: %s %s not reproduced: %s", s.Package, s.Script, s.Why)
		}
	}
	took := done()
	steps := &b.phases[len(b.phases)-1].Steps // provision's own, inside its phase
	for _, e := range res.Steps {
		*steps = append(*steps, PhaseReport{Name: e.Phase, Seconds: e.Elapsed.Seconds()})
	}
	b.ui.logf("provision: %d files (%s) in %s; %d package scripts not reproduced (see --report)",
		res.Files, sizeString(res.UnpackedBytes), roundDuration(took), notReproduced)
	return res, nil
}

// writeImage lays the tree out as ext4 and writes it to a temporary file
// beside the output (see imagefile.Stage), for build to commit.
func (b *builder) writeImage(ctx context.Context, res *provision.Result) (*stagedImage, error) {
	done := b.phase("write")
	opts := b.imageOpts
	opts.UUID, opts.HashSeed, opts.Time = res.UUID, res.HashSeed, res.Time
	w := ext4img.NewWriter(opts)
	if err := res.Tree.AddTo(w); err != nil {
		return nil, fmt.Errorf("writing image %s: %w", b.output, err)
	}
	layout, err := w.Layout()
	if err != nil {
		return nil, fmt.Errorf("writing image %s: %w", b.output, err)
	}
	b.ui.startBars()
	staged, err := imagefile.Stage(ctx, b.output, imagefile.Options{Progress: b.ui.imageProgress(layout.Size())}, w.Write)
	b.ui.endBars(err == nil)
	if err != nil {
		return nil, err
	}
	if err := b.sudo.chown(staged.Name()); err != nil {
		staged.Discard()
		return nil, fmt.Errorf("writing image %s: %w", b.output, err)
	}
	b.ui.logf("write: %s in %s", b.output, roundDuration(done()))
	return &stagedImage{file: staged, image: &ImageReport{
		Path: b.output, Size: staged.Size(), AllocatedBytes: staged.Allocated(),
		BlockSize: layout.BlockSize, Blocks: layout.Blocks,
		FreeBlocks: layout.FreeBlocks, FreeInodes: int64(layout.FreeInodes),
		UUID: formatUUID(layout.UUID),
	}}, nil
}

// writeReport writes the build report, with the image and the phases,
// when --report asks for it: through a temporary file renamed into place.
// The old report is kept aside until settle is told whether the image
// went into place too: then it is removed; if not, it is put back (or the
// new report removed when there was none).
func (b *builder) writeReport(rep *Report, img *ImageReport) (settle func(imageInPlace bool), err error) {
	rep.Image = img
	rep.Phases = b.phases
	if b.reportPath == "" {
		return func(bool) {}, nil
	}
	dir := filepath.Dir(b.reportPath)
	f, err := os.CreateTemp(dir, "."+filepath.Base(b.reportPath)+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := b.sudo.chown(f.Name()); err != nil {
		return nil, err
	}
	// Again just before the rename, as for the image.
	if err := checkOutputFile("--report", b.reportPath); err != nil {
		return nil, err
	}
	// The old report, if any, is kept under a temporary name until the
	// image is in place.
	old := f.Name() + ".old"
	if err := os.Rename(b.reportPath, old); err != nil {
		old = ""
	}
	if err := os.Rename(f.Name(), b.reportPath); err != nil {
		if old != "" {
			os.Rename(old, b.reportPath)
		}
		return nil, err
	}
	return func(imageInPlace bool) {
		switch {
		case imageInPlace && old != "":
			os.Remove(old)
		case !imageInPlace && old != "":
			os.Rename(old, b.reportPath)
		case !imageInPlace:
			os.Remove(b.reportPath)
		}
	}, nil
}

// summary prints the closing lines: what was built and what it took.
func (b *builder) summary(rep *Report, img *ImageReport) {
	if b.ui.level < levelNormal {
		return
	}
	var phases []string
	var total float64
	for _, p := range b.phases {
		phases = append(phases, fmt.Sprintf("%s %s", p.Name, roundDuration(time.Duration(p.Seconds*float64(time.Second)))))
		total += p.Seconds
	}
	fmt.Fprintf(b.stdout, "built %s\n  %d packages, %d files (%s unpacked)\n  image %s apparent, %s allocated on disk, %d blocks and %d inodes free\n  %s (total %s)\n",
		img.Path, len(rep.Packages), rep.Files, sizeString(rep.UnpackedBytes),
		sizeString(img.Size), sizeString(img.AllocatedBytes), img.FreeBlocks, img.FreeInodes,
		strings.Join(phases, ", "), roundDuration(time.Duration(total*float64(time.Second))))
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
