package sbom

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// image is what the document is made of, read from the image's files.
type image struct {
	pkgs   []*apk.InstalledPackage
	report *buildReport // nil when the image has none

	// created is the document's time: SOURCE_DATE_EPOCH, else the
	// report's or the database's mtime.
	created time.Time

	// From /etc/os-release: ID and VERSION_ID ("" when absent).
	osID, osVersion string
}

// buildReport is the part of the build report (build.ReportPath) the
// document uses. It is read leniently: a newer report's other fields are
// no concern here.
type buildReport struct {
	Arch            string          `json:"arch"`
	Repositories    []string        `json:"repositories"`
	SourceDateEpoch int64           `json:"source_date_epoch"`
	Packages        []reportPackage `json:"packages"`
}

type reportPackage struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Checksum   string `json:"checksum"`
	Repository string `json:"repository"`
	DataHash   string `json:"datahash"`
}

// readImage reads apk's database, the build report and os-release.
func readImage(fsys fs.FS) (*image, error) {
	img := &image{}
	db, err := readFile(fsys, installedPath, maxInstalledSize)
	if err != nil {
		return nil, fmt.Errorf("reading apk's database /%s: %w", installedPath, err)
	}
	if img.pkgs, err = apk.ReadInstalled(bytes.NewReader(db)); err != nil {
		return nil, fmt.Errorf("reading apk's database /%s: %w", installedPath, err)
	}
	if fi, err := fs.Stat(fsys, installedPath); err == nil {
		img.created = fi.ModTime()
	}
	switch data, err := readFile(fsys, reportPath, maxReportSize); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading the build report /%s: %w", reportPath, err)
	default:
		img.report = &buildReport{}
		if err := json.Unmarshal(data, img.report); err != nil {
			return nil, fmt.Errorf("reading the build report /%s: %w", reportPath, err)
		}
		if fi, err := fs.Stat(fsys, reportPath); err == nil {
			img.created = fi.ModTime()
		}
		if img.report.SourceDateEpoch != 0 {
			img.created = time.Unix(img.report.SourceDateEpoch, 0)
		}
	}
	switch data, err := readFile(fsys, osReleasePath, maxOSReleaseSize); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading /%s: %w", osReleasePath, err)
	default:
		vars := parseOSRelease(data)
		img.osID, img.osVersion = vars["ID"], vars["VERSION_ID"]
	}
	return img, nil
}

// parseOSRelease reads os-release's KEY=VALUE lines, a value in single
// or double quotes unquoted (os-release(5) allows shell quoting; Alpine's
// uses double quotes without escapes).
func parseOSRelease(data []byte) map[string]string {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	return vars
}

// branchVersion matches a branch in a repository URL: ".../v3.23/main".
var branchVersion = regexp.MustCompile(`/v([0-9]+\.[0-9]+)/`)

// leadingMajorMinor matches "3.23" at the start of "3.23.2", "3.23" or
// "3.23_alpha20251010".
var leadingMajorMinor = regexp.MustCompile(`^([0-9]+\.[0-9]+)(\.|$|_)`)

// version is the operating system's version: os-release's VERSION_ID,
// else the branch the repositories name ("3.23" of v3.23), else "".
func (img *image) version() string {
	if img.osVersion != "" {
		return img.osVersion
	}
	if img.report == nil {
		return ""
	}
	urls := img.report.Repositories
	for _, p := range img.report.Packages {
		urls = append(urls, p.Repository)
	}
	for _, u := range urls {
		if m := branchVersion.FindStringSubmatch(u); m != nil {
			return m[1]
		}
	}
	return ""
}

// majorMinor is "3.23" of "3.23.2" (or of "3.23"), "" when version does
// not start with two numbers: the distro qualifier of a purl, by which
// grype picks Alpine's security data.
func majorMinor(version string) string {
	m := leadingMajorMinor.FindStringSubmatch(version)
	if m == nil {
		return ""
	}
	return m[1]
}
