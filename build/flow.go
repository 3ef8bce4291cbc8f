package build

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/files"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// run is the whole build, in the order of its steps: resolve the world to
// packages, fetch them verified into the cache, provision the root tree
// (unpack, script effects, apk database, overlays), write the image. Each
// step is timed into the report. The report goes into place before the
// image does: a report that cannot be written leaves the old image as it
// was.
func (b *builder) run(ctx context.Context) (*Report, error) {
	pkgs, err := b.resolve(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolving packages: %w", err)
	}
	paths, err := b.fetch(ctx, pkgs)
	if err != nil {
		return nil, fmt.Errorf("fetching packages: %w", err)
	}
	res, img, err := b.provisionAndWrite(ctx, pkgs, paths)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	defer img.file.Discard()
	rep := b.newReport(res, img.image)
	sbomFile, err := b.stageSBOM(ctx, res, img.image)
	if err != nil {
		return nil, err
	}
	if sbomFile != nil {
		defer sbomFile.Discard()
	}
	settleReport, err := b.writeReport(rep)
	if err != nil {
		return nil, fmt.Errorf("writing report %s: %w", b.reportPath, err)
	}
	err = img.file.Commit(ctx)
	settleReport(err == nil)
	if err != nil {
		return nil, err
	}
	// After the image: an SBOM in place always describes the image there.
	if sbomFile != nil {
		if err := sbomFile.Commit(ctx); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// stagedImage is the build's image, staged beside its target (see
// imagefile.Stage), with what the report says of it.
type stagedImage struct {
	file  *imagefile.Staged
	image *ImageReport
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
		b.progress(Event{Phase: "provision", Retry: corrupt})
	}
}

func (b *builder) provisionAndWriteOnce(ctx context.Context, pkgs []*apk.Package, paths []string) (*provision.Result, *stagedImage, error) {
	res, err := b.provision(ctx, pkgs, paths)
	if err != nil {
		return nil, nil, fmt.Errorf("provisioning the root tree: %w", err)
	}
	if err := b.recordOverlays(res.Time); err != nil {
		res.Close()
		return nil, nil, err
	}
	img, err := b.writeImage(ctx, res)
	if err != nil {
		res.Close()
		return nil, nil, err // naming the image
	}
	return res, img, nil
}

// phase times one step into b.phases and tells Progress it began; call
// the result with the step's Stats when it ends.
func (b *builder) phase(name string, total int64) func(*Stats) {
	return startPhase(b.progress, name, total, func(d time.Duration) {
		b.phases = append(b.phases, PhaseReport{Name: name, Seconds: d.Seconds()})
	})
}

// startPhase tells progress that a phase began; the function it returns
// ends it, giving its wall time to record and then to progress with s.
func startPhase(progress func(Event), name string, total int64, record func(time.Duration)) func(s *Stats) {
	start := time.Now()
	progress(Event{Phase: name, Total: total})
	return func(s *Stats) {
		d := time.Since(start)
		record(d)
		progress(Event{Phase: name, Elapsed: d, Stats: s})
	}
}

// resolve fetches the repositories' indexes and solves the world.
func (b *builder) resolve(ctx context.Context) ([]*apk.Package, error) {
	sol, indexes, err := resolveSelection(ctx, b.client, b.sel, b.phase)
	if err != nil {
		return nil, err
	}
	b.usedRepositories = usedRepositories(indexes, b.client.Arch)
	return sol.Packages, nil
}

// resolveSelection is the resolve phase, shared with Fetch and Plan: the
// packages in install order, with what requires each, and the indexes
// they were chosen from.
func resolveSelection(ctx context.Context, c *apk.Client, sel *selection, phase func(string, int64) func(*Stats)) (*apk.Solution, []*apk.Index, error) {
	done := phase("resolve", 0)
	indexes, left, err := fetchIndexes(ctx, c, sel.repos)
	if err != nil {
		return nil, nil, err
	}
	sol, err := apk.SolveWithReasons(sel.world, indexes, apk.SolveOptions{Arch: c.Arch})
	if err != nil {
		return nil, nil, withoutRepositories(missingPackages(err), left)
	}
	if err := sel.checkLock(sol.Packages, c.Arch); err != nil {
		return nil, nil, &OptionError{Option: "Lock", Err: err}
	}
	var size int64
	for _, p := range sol.Packages {
		size += p.Size
	}
	done(&Stats{Packages: len(sol.Packages), Bytes: size, Repositories: len(sel.repos)})
	return sol, indexes, nil
}

// fetch downloads and verifies the packages into the cache.
func (b *builder) fetch(ctx context.Context, pkgs []*apk.Package) ([]string, error) {
	return fetchPackages(ctx, b.client, pkgs, b.progress, b.phase)
}

// fetchPackages is the fetch phase, shared with Fetch: it downloads and
// verifies pkgs into the cache, telling progress which were there before.
func fetchPackages(ctx context.Context, c *apk.Client, pkgs []*apk.Package, progress func(Event), phase func(string, int64) func(*Stats)) ([]string, error) {
	var total int64
	cached := make(map[string]bool)
	for _, p := range pkgs {
		total += p.Size
		if c.IsCached(p) {
			cached[p.String()] = true
		}
	}
	done := phase("fetch", total)
	c.Progress = func(p apk.Progress) {
		progress(Event{Phase: "fetch", Package: p.Package, Cached: cached[p.Package], Done: p.Done, Total: p.Total})
	}
	defer func() { c.Progress = nil }()
	paths, err := c.FetchPackages(ctx, pkgs)
	if err != nil {
		return nil, err
	}
	s := &Stats{Packages: len(pkgs), Cached: len(cached)}
	for _, p := range pkgs {
		if !cached[p.String()] {
			s.Bytes += p.Size
		}
	}
	done(s)
	return paths, nil
}

// provision builds the root tree from the verified packages.
func (b *builder) provision(ctx context.Context, pkgs []*apk.Package, paths []string) (*provision.Result, error) {
	done := b.phase("provision", 0)
	// The datahashes are read from the packages' control members while
	// the tree is made: the two read different files.
	type hashed struct {
		m   map[string]string
		err error
	}
	hashes := make(chan hashed, 1)
	go func() {
		m, err := dataHashes(pkgs, paths)
		hashes <- hashed{m, err}
	}()
	res, err := b.provisionTree(ctx, provision.Options{
		Arch:               b.client.Arch,
		World:              b.sel.requested,
		Packages:           pkgs,
		PackageFiles:       paths,
		StoreDir:           b.storeDir,
		Repositories:       b.sel.guest,
		Keys:               b.client.Keys,
		Time:               b.sourceDate,
		Overlays:           b.overlays,
		AuthorizedKeys:     b.authorizedKeys,
		Hostname:           b.hostname,
		RootShell:          files.RootShell,
		Strict:             b.strict,
		DeferredScriptsDir: b.deferredDir,
		Progress: func(e provision.Event) {
			b.progress(Event{Phase: "provision", Step: e.Phase, Package: e.Package,
				Done: int64(e.Done), Total: int64(e.Total), Elapsed: e.Elapsed})
		},
	})
	h := <-hashes
	if err != nil {
		return nil, err
	}
	if h.err != nil {
		res.Close()
		return nil, h.err
	}
	addDataHashes(res.Packages, h.m)
	s := &Stats{Files: res.Files, Bytes: res.UnpackedBytes}
	for _, sc := range res.Scripts {
		switch sc.Status {
		case "not-reproduced":
			s.NotReproduced = append(s.NotReproduced, sc)
		case "deferred":
			s.Deferred = append(s.Deferred, sc)
		}
	}
	done(s)
	steps := &b.phases[len(b.phases)-1].Steps // provision's own, inside its phase
	for _, e := range res.Steps {
		*steps = append(*steps, PhaseReport{Name: e.Phase, Seconds: e.Elapsed.Seconds()})
	}
	return res, nil
}

// recordOverlays puts the digests of Options.Files, as laid over the tree
// at filesystem time t, in the report's inputs, and refuses them when they
// are not the lock's.
func (b *builder) recordOverlays(t time.Time) error {
	if b.inputs == nil {
		return nil
	}
	var err error
	if b.inputs.Files, err = overlayDigests(b.files, t); err != nil {
		return err
	}
	return checkOverlays(b.sel.lock, b.files, b.inputs.Files)
}

// writeImage lays the tree out as ext4 and writes it to a temporary file
// beside the output (see imagefile.Stage), for run to commit.
func (b *builder) writeImage(ctx context.Context, res *provision.Result) (*stagedImage, error) {
	done := b.phase("write", 0)
	opts := b.imageOpts
	opts.UUID, opts.HashSeed, opts.Time = res.UUID, res.HashSeed, res.Time
	if err := addReport(res.Tree, b.newReport(res, nil), res.Time); err != nil {
		return nil, fmt.Errorf("writing image %s: %w", b.output, err)
	}
	w := ext4img.NewWriter(opts)
	if err := res.Tree.AddTo(w); err != nil {
		return nil, fmt.Errorf("writing image %s: %w", b.output, err)
	}
	layout, err := w.Layout()
	if err != nil {
		return nil, fmt.Errorf("writing image %s: %w", b.output, err)
	}
	size := layout.Size()
	staged, err := imagefile.Stage(ctx, b.output, imagefile.Options{Progress: func(step string, n int64) {
		b.progress(Event{Phase: "write", Step: step, Done: n, Total: size})
	}}, w.Write)
	if err != nil {
		return nil, err
	}
	if err := b.owner.chown(staged.Name()); err != nil {
		staged.Discard()
		return nil, fmt.Errorf("writing image %s: %w", b.output, err)
	}
	done(&Stats{Path: b.output})
	return &stagedImage{file: staged, image: &ImageReport{
		Path: b.output, Size: staged.Size(), AllocatedBytes: staged.Allocated(),
		Digest: staged.Digest(), CompressedDigest: staged.CompressedDigest(),
		BlockSize: layout.BlockSize, Blocks: layout.Blocks,
		FreeBlocks: layout.FreeBlocks, FreeInodes: int64(layout.FreeInodes),
		UUID: formatUUID(layout.UUID),
	}}, nil
}

// newReport is the report of a build that provisioned res into img: what
// b asked for, what provision installed and did, and the phases.
func (b *builder) newReport(res *provision.Result, img *ImageReport) *Report {
	rep := &Report{
		Arch: b.client.Arch, Repositories: b.usedRepositories,
		Packages: res.Packages, Scripts: res.Scripts, Users: res.Users, Groups: res.Groups,
		Files: res.Files, UnpackedBytes: res.UnpackedBytes,
		Image: img, Phases: b.phases, Inputs: b.inputs,
	}
	if !b.sourceDate.IsZero() {
		rep.SourceDateEpoch = b.sourceDate.Unix()
	}
	for _, d := range b.sel.requested {
		rep.World = append(rep.World, d.String())
	}
	return rep
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
