package build

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/provision"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// ReportPath is where every image keeps its build's report: the Report as
// Options.Report writes it, less the image section and the phase times
// (they are known only once the image is written, and times would make
// the image's bytes differ from build to build). So an image says which
// packages (with their checksums, data hashes and repositories), options
// and lock made it, and ReadReport reads it back as a lock. A package's
// repository, and each repository the build read, is named there as
// imageRepository names it, so that the image's bytes do not depend on
// the mirror that served the same packages. Its Files and UnpackedBytes count the tree
// without the report itself.
const ReportPath = "/usr/lib/rootfs-synth/report.json"

// dataHashes reads the datahash (hex SHA-256 of the data member) of each
// fetched package from its control member, by the package's checksum:
// the report carries it so that a bill of materials can name each
// package's content, which apk's installed database does not record. The
// files were verified by the fetch; NewPackageReader checks their
// control member against the index again, and reads no further.
func dataHashes(pkgs []*apk.Package, paths []string) (map[string]string, error) {
	hashes := make(map[string]string, len(pkgs))
	for i, p := range pkgs {
		h, err := dataHash(p, paths[i])
		if err != nil {
			return nil, fmt.Errorf("reading the datahash of %s: %w", p, err)
		}
		hashes[apk.FormatChecksum(p.Checksum)] = h
	}
	return hashes, nil
}

func dataHash(p *apk.Package, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	pr, err := apk.NewPackageReader(f, p)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(pr.Info().DataHash), nil
}

// addDataHashes puts each package's datahash into its record.
func addDataHashes(pkgs []provision.PackageReport, hashes map[string]string) {
	for i := range pkgs {
		pkgs[i].DataHash = hashes[pkgs[i].Checksum]
	}
}

// addReport puts the report, less the image and the phases, into the
// tree at ReportPath (root's, 0644, in 0755 directories made as needed,
// all dated like the filesystem), replacing a file an overlay put there.
func addReport(tree *rootfs.Tree, rep *Report, mtime time.Time) error {
	var buf bytes.Buffer
	if err := rep.InImage().WriteJSON(&buf); err != nil {
		return err
	}
	data := buf.Bytes()
	p := strings.TrimPrefix(ReportPath, "/")
	if err := tree.MkdirAll(p[:strings.LastIndexByte(p, '/')], rootfs.Node{Mode: 0o755, ModTime: mtime}); err != nil {
		return fmt.Errorf("adding the report at %s: %w", ReportPath, err)
	}
	n := &rootfs.Node{Mode: 0o644, ModTime: mtime, Size: int64(len(data)),
		Content: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
	if err := tree.Replace(p, n); err != nil {
		return fmt.Errorf("adding the report at %s: %w", ReportPath, err)
	}
	return nil
}

// InImage is the report as the image stores it at ReportPath: without
// the image and the phases' times, and with repositories named as
// imageRepository says, so the bytes do not depend on the mirror or the
// machine the build used.
func (rep *Report) InImage() *Report {
	in := *rep
	in.Image, in.Phases = nil, nil
	in.Packages = slices.Clone(rep.Packages)
	for i, p := range in.Packages {
		in.Packages[i].Repository = imageRepository(p.Repository)
	}
	in.Repositories = nil
	for _, r := range rep.Repositories {
		if r = imageRepository(r); r != "" {
			in.Repositories = append(in.Repositories, r)
		}
	}
	return &in
}

// imageRepository is how the image's report names a repository line
// ("URL" or "@tag URL") or a package's index URL: one of Alpine's own (a
// path ending in <branch>/main, community or testing) by the official
// mirror, whichever mirror served it; any other not at all (""). The
// packages are pinned by checksum, so where they were fetched from is
// where the build ran, which must not change the image's bytes (nor does
// a lock pin it).
func imageRepository(line string) string {
	tag, u := "", line
	if strings.HasPrefix(line, "@") {
		tag, u, _ = strings.Cut(line, " ")
		tag += " "
	}
	if pu, err := url.Parse(u); err == nil {
		elems := strings.Split(strings.Trim(pu.Path, "/"), "/")
		suffix := ""
		if n := len(elems); n >= 4 && elems[n-1] == "APKINDEX.tar.gz" { // a package's: the index it came from
			suffix, elems = "/"+elems[n-2]+"/"+elems[n-1], elems[:n-2]
		}
		if n := len(elems); n >= 2 && plainName(elems[n-2]) && slices.Contains([]string{"main", "community", "testing"}, elems[n-1]) {
			return tag + DefaultMirror + "/" + elems[n-2] + "/" + elems[n-1] + suffix
		}
	}
	return ""
}
