package build

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/provision"
	"github.com/rootfs-synth/rootfs-synth/sbom"
)

// checkSBOMPath refuses an Options.SBOM that names the image or the
// report: one of them would replace the other.
func (b *builder) checkSBOMPath() error {
	switch {
	case b.sbomPath == "":
	case sameFile(b.sbomPath, b.output):
		return &OptionError{"SBOM", b.sbomPath, usagef("is the image (%q): give the SBOM a file of its own", b.output)}
	case b.reportPath != "" && sameFile(b.sbomPath, b.reportPath):
		return &OptionError{"SBOM", b.sbomPath, usagef("is the report (%q): give the SBOM a file of its own", b.reportPath)}
	}
	return nil
}

// prepareSBOM creates the SBOM's directory and proves it writable, as
// prepareOutputs does for the image and the report.
func (b *builder) prepareSBOM() error {
	if b.sbomPath == "" {
		return nil
	}
	if err := b.mkdirAll(filepath.Dir(b.sbomPath)); err != nil {
		return fmt.Errorf("writing SBOM %s: %w", b.sbomPath, err)
	}
	if err := imagefile.CheckReplaceable(b.sbomPath); err != nil {
		return &OptionError{"SBOM", b.sbomPath, err}
	}
	if err := probeWritable(filepath.Dir(b.sbomPath), b.sbomPath); err != nil {
		return fmt.Errorf("writing SBOM %s: %w", b.sbomPath, err)
	}
	// Again now that the directories exist (see prepareOutputs).
	return b.checkSBOMPath()
}

// stageSBOM makes the SBOM of the image just written from its tree (the
// same document sbom.FromImage makes of the image file, without reading
// it again) and stages it beside Options.SBOM, for run to commit after
// the image; nil when no SBOM was asked for.
func (b *builder) stageSBOM(ctx context.Context, res *provision.Result, img *ImageReport) (*imagefile.Staged, error) {
	if b.sbomPath == "" {
		return nil, nil
	}
	doc, err := sbom.FromFS(ctx, res.Tree.FS(), img.Digest)
	if err != nil {
		return nil, err
	}
	staged, err := imagefile.Stage(ctx, b.sbomPath, imagefile.Options{Kind: "SBOM"}, func(w io.WriteSeeker) error {
		return doc.WriteJSON(w)
	})
	if err != nil {
		return nil, err
	}
	if err := b.owner.chown(staged.Name()); err != nil {
		staged.Discard()
		return nil, fmt.Errorf("writing SBOM %s: %w", b.sbomPath, err)
	}
	return staged, nil
}
