package main

import (
	"fmt"
	"io"
	"strings"
	"time"

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
