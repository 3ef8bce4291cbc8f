package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/inspect"
)

// refArchFlag is inspect's and diff's --arch, for a REF naming an index.
func refArchFlag() cli.Flag {
	return &cli.StringFlag{Name: "arch", Usage: "the `ARCH` to pull from a REF that names an index (default: the host's)"}
}

// inspectCommand is `rootfs-synth inspect IMAGE|REF`.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "say what is inside an image: packages, options, digest, sizes",
		ArgsUsage: "IMAGE|REF",
		Description: "Reads the build report the image carries (" + build.ReportPath + "),\n" +
			"hashes the image and reads its superblock; a .zst or .xz image is decompressed\n" +
			"into a temporary file first. An image without a report (built by\n" +
			"another tool) is described by apk's database. --json prints the report as the\n" +
			"build wrote it with --report, its image section read from the image.\n\n" +
			"A REF (host/repository:tag or @sha256:..., as push prints) is pulled first into\n" +
			"a temporary directory, every digest checked as rootfs-synth pull checks them.",
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"}, refArchFlag()},
		OnUsageError: usageExit("inspect"),
		Action:       runInspect,
	}
}

func runInspect(cCtx *cli.Context) error {
	if cCtx.NArg() != 1 {
		return cli.Exit("inspect: need IMAGE or REF (e.g. rootfs-synth inspect alpine.ext4)", 2)
	}
	if err := checkGivenArch(cCtx); err != nil {
		return err
	}
	img, closeImg, err := openImageOrRef(cCtx.Context, cCtx.Args().First(), cCtx.String("arch"))
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	defer closeImg()
	rep := img.FullReport()
	if cCtx.Bool("json") {
		return rep.WriteJSON(cCtx.App.Writer)
	}
	w := bufio.NewWriter(cCtx.App.Writer)
	describe(w, img, rep)
	return w.Flush()
}

// describe writes what a person wants to know of an image, a field a line.
func describe(w io.Writer, img *inspect.Image, rep *build.Report) {
	im := rep.Image
	field := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%-13s "+format+"\n", append([]any{name}, args...)...)
	}
	field("image", "%s", quoteName(img.Path))
	field("digest", "sha256:%s", img.SHA256)
	if img.Compression != "" {
		field("compressed", "%s, sha256:%s", img.Compression, img.CompressedSHA256)
	}
	field("size", "%s (%s on disk), %d blocks of %d bytes, %d free, %d free inodes",
		sizeString(im.Size), sizeString(im.AllocatedBytes), im.Blocks, im.BlockSize, im.FreeBlocks, im.FreeInodes)
	field("uuid", "%s", im.UUID)
	if img.Report == nil {
		fmt.Fprintf(w, "%-13s %s\n", "report", "none in the image (not built by rootfs-synth?): packages from apk's database")
	}
	if rep.Arch != "" {
		field("arch", "%s", quoteName(rep.Arch))
	}
	if rep.SourceDateEpoch > 0 {
		field("created", "%s (SOURCE_DATE_EPOCH %d)", time.Unix(rep.SourceDateEpoch, 0).UTC().Format(time.RFC3339), rep.SourceDateEpoch)
	}
	if len(rep.World) > 0 {
		field("world", "%s", quoteList(rep.World))
	}
	for i, r := range rep.Repositories {
		name := ""
		if i == 0 {
			name = "repositories"
		}
		field(name, "%s", quoteName(r))
	}
	if rep.Files > 0 {
		field("tree", "%d files, %s unpacked", rep.Files, sizeString(rep.UnpackedBytes))
	}
	field("packages", "%d", len(rep.Packages))
	for _, p := range inspect.ReportPackages(rep) {
		fmt.Fprintf(w, "  %s %s\n", quoteName(p.Name), quoteName(p.Version))
	}
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = quoteName(s)
	}
	return strings.Join(q, " ")
}

// diffCommand is `rootfs-synth diff A B`.
func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "say what changed between two images or build reports",
		ArgsUsage: "A B",
		Description: "A and B are images, build reports (--report files) or registry references\n" +
			"(pulled as inspect pulls them). Prints the packages\n" +
			"added (+), removed (-) and changed (~, with the versions), and, when both are\n" +
			"images, every path added, removed or changed (type, mode, owner, size,\n" +
			"content, target, device, xattrs) with the package that owns it.",
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the changes as JSON"}, refArchFlag()},
		OnUsageError: usageExit("diff"),
		Action:       runDiff,
	}
}

// diffResult is what diff --json prints.
type diffResult struct {
	Packages []inspect.PackageChange `json:"packages"`
	// Files is null when either side is a report.
	Files []inspect.FileChange `json:"files"`
}

func runDiff(cCtx *cli.Context) error {
	if cCtx.NArg() != 2 {
		return cli.Exit("diff: need A B, two images, build reports or registry references (e.g. rootfs-synth diff old.ext4 new.ext4)", 2)
	}
	if err := checkGivenArch(cCtx); err != nil {
		return err
	}
	a, err := openSide(cCtx.Context, cCtx.Args().Get(0), cCtx.String("arch"))
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	defer a.close()
	b, err := openSide(cCtx.Context, cCtx.Args().Get(1), cCtx.String("arch"))
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	defer b.close()
	res := diffResult{Packages: inspect.DiffPackages(a.packages(), b.packages())}
	if a.img != nil && b.img != nil {
		if res.Files, err = inspect.DiffFiles(a.img, b.img); err != nil {
			return fmt.Errorf("diff: %w", err)
		}
		if res.Files == nil {
			res.Files = []inspect.FileChange{}
		}
	}
	if res.Packages == nil {
		res.Packages = []inspect.PackageChange{}
	}
	if cCtx.Bool("json") {
		enc := json.NewEncoder(cCtx.App.Writer)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(res)
	}
	w := bufio.NewWriter(cCtx.App.Writer)
	printDiff(w, res)
	return w.Flush()
}

func printDiff(w io.Writer, res diffResult) {
	var added, removed, changed int
	for _, p := range res.Packages {
		switch {
		case p.Old == "":
			added++
		case p.New == "":
			removed++
		default:
			changed++
		}
	}
	fmt.Fprintf(w, "packages: %d added, %d removed, %d changed\n", added, removed, changed)
	for _, p := range res.Packages {
		switch {
		case p.Old == "":
			fmt.Fprintf(w, "+ %s %s\n", quoteName(p.Name), quoteName(p.New))
		case p.New == "":
			fmt.Fprintf(w, "- %s %s\n", quoteName(p.Name), quoteName(p.Old))
		case p.Rebuilt:
			fmt.Fprintf(w, "~ %s %s (rebuilt: same version, other checksum)\n", quoteName(p.Name), quoteName(p.New))
		default:
			fmt.Fprintf(w, "~ %s %s -> %s\n", quoteName(p.Name), quoteName(p.Old), quoteName(p.New))
		}
	}
	if res.Files == nil {
		return
	}
	added, removed, changed = 0, 0, 0
	for _, f := range res.Files {
		switch f.Change {
		case "added":
			added++
		case "removed":
			removed++
		default:
			changed++
		}
	}
	fmt.Fprintf(w, "files: %d added, %d removed, %d changed\n", added, removed, changed)
	for _, f := range res.Files {
		line := map[string]string{"added": "+", "removed": "-", "changed": "~"}[f.Change] + " " + quoteName(f.Path)
		if len(f.What) > 0 {
			line += ": " + strings.Join(f.What, ", ")
		}
		if f.Package != "" {
			line += " (" + quoteName(f.Package) + ")"
		}
		fmt.Fprintln(w, line)
	}
}

// A side of a diff: an image, or a build report read from a file.
type side struct {
	img      *inspect.Image
	closeImg func()
	rep      *build.Report
}

// openSide opens name as a build report when it holds JSON, else as an
// image or a registry reference (openImageOrRef).
func openSide(ctx context.Context, name, arch string) (*side, error) {
	var img *inspect.Image
	var closeImg func()
	if isRef(name) {
		var err error
		if img, closeImg, err = pullImage(ctx, name, arch); err != nil {
			return nil, err
		}
	} else {
		rep, err := readReportSide(name)
		switch {
		case err != nil:
			return nil, err
		case rep != nil:
			return &side{rep: rep}, nil
		}
		if img, closeImg, err = openImageFile(ctx, name); err != nil {
			return nil, err
		}
	}
	return &side{img: img, closeImg: closeImg}, nil
}

// readReportSide reads name as a build report when it starts as JSON
// does; else it returns nil, to be opened as an image.
func readReportSide(name string) (*build.Report, error) {
	f, err := openNonblocking(name)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	f.Close()
	if t := bytes.TrimSpace(head[:n]); len(t) > 0 && t[0] == '{' {
		b, err := readFlagFile("report", name, maxLockSize)
		if err != nil {
			return nil, err
		}
		rep, err := build.ReadImageReport(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		return rep, nil
	}
	return nil, nil
}

func (s *side) packages() []inspect.Package {
	if s.img != nil {
		return s.img.Packages()
	}
	return inspect.ReportPackages(s.rep)
}

func (s *side) close() {
	if s.closeImg != nil {
		s.closeImg()
	}
}
