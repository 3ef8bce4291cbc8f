package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/build"
)

// sizeString prints a byte count for people: "1.5 MiB".
func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// summary prints the closing lines on w: what was built and what it took.
func (u *ui) summary(w io.Writer, rep *build.Report) {
	if u.level < levelNormal {
		return
	}
	var phases []string
	var total float64
	for _, p := range rep.Phases {
		phases = append(phases, fmt.Sprintf("%s %s", p.Name, roundDuration(time.Duration(p.Seconds*float64(time.Second)))))
		total += p.Seconds
	}
	img := rep.Image
	fmt.Fprintf(w, "built %s\n  %d packages, %d files (%s unpacked)\n  image %s apparent, %s allocated on disk, %d blocks and %d inodes free\n  %s (total %s)\n",
		img.Path, len(rep.Packages), rep.Files, sizeString(rep.UnpackedBytes),
		sizeString(img.Size), sizeString(img.AllocatedBytes), img.FreeBlocks, img.FreeInodes,
		strings.Join(phases, ", "), roundDuration(time.Duration(total*float64(time.Second))))
	if img.Digest != "" {
		fmt.Fprintf(w, "  digest %s\n", img.Digest)
	}
	if img.CompressedDigest != "" {
		fmt.Fprintf(w, "  compressed digest %s\n", img.CompressedDigest)
	}
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// results prints what the build made on stdout: the summary for people,
// or with --json the one for machines, or with --report - the report
// (the summary for people then on stderr).
func (u *ui) results(cCtx *cli.Context, rep *build.Report) error {
	stdout := cCtx.App.Writer
	switch {
	case cCtx.Bool("json"):
		return writeJSONSummary(stdout, rep, cCtx.String("report"))
	case cCtx.String("report") == "-":
		u.summary(cCtx.App.ErrWriter, rep)
		return rep.WriteJSON(stdout)
	}
	u.summary(stdout, rep)
	return nil
}

// jsonSummary is what --json prints: the build's outcome for a program,
// one object on stdout. Fields are only ever added.
type jsonSummary struct {
	Image                string        `json:"image"`                       // the image's path
	Size                 int64         `json:"size"`                        // its apparent size in bytes
	AllocatedBytes       int64         `json:"allocated_bytes"`             // what it takes on disk
	UUID                 string        `json:"uuid"`                        // the filesystem's
	Digest               string        `json:"digest"`                      // sha256:… of the raw image
	CompressedDigest     string        `json:"compressed_digest,omitempty"` // of the file written, when compressed
	Arch                 string        `json:"arch"`
	Report               string        `json:"report,omitempty"` // the --report FILE written
	Packages             []jsonPackage `json:"packages"`
	Files                int           `json:"files"`
	UnpackedBytes        int64         `json:"unpacked_bytes"`
	ScriptsDeferred      int           `json:"scripts_deferred"` // to the guest's first boot
	ScriptsNotReproduced int           `json:"scripts_not_reproduced"`
	Seconds              float64       `json:"seconds"` // the build's wall time
	Phases               []jsonPhase   `json:"phases"`
}

type jsonPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type jsonPhase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// writeJSONSummary prints rep's jsonSummary on w; report is the
// --report FILE.
func writeJSONSummary(w io.Writer, rep *build.Report, report string) error {
	s := jsonSummary{Arch: rep.Arch, Report: report, Files: rep.Files, UnpackedBytes: rep.UnpackedBytes,
		Packages: []jsonPackage{}, Phases: []jsonPhase{}}
	if img := rep.Image; img != nil {
		s.Image, s.Size, s.AllocatedBytes, s.UUID = img.Path, img.Size, img.AllocatedBytes, img.UUID
		s.Digest, s.CompressedDigest = img.Digest, img.CompressedDigest
	}
	for _, p := range rep.Packages {
		s.Packages = append(s.Packages, jsonPackage{p.Name, p.Version})
	}
	for _, sc := range rep.Scripts {
		switch sc.Status {
		case "deferred":
			s.ScriptsDeferred++
		case "not-reproduced":
			s.ScriptsNotReproduced++
		}
	}
	for _, p := range rep.Phases {
		s.Phases = append(s.Phases, jsonPhase{p.Name, p.Seconds})
		s.Seconds += p.Seconds
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(s)
}
