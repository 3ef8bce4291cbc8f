package build

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// Report is the build report: what was installed and done, and what was
// not. It doubles as a lock (Options.Lock, see Report.lockedWorld). The
// records of what was installed and done are provision's
// (provision.Result); the build adds what was asked for, the image and
// the phases. Its JSON is the report file's, read back by ReadReport.
type Report struct {
	Arch            string                    `json:"arch"`
	World           []string                  `json:"world"`
	Repositories    []string                  `json:"repositories,omitempty"`
	SourceDateEpoch int64                     `json:"source_date_epoch"`
	Packages        []provision.PackageReport `json:"packages"`
	Scripts         []provision.ScriptReport  `json:"scripts,omitempty"`
	Users           []provision.AccountReport `json:"users,omitempty"`
	Groups          []provision.AccountReport `json:"groups,omitempty"`
	Inputs          *Inputs                   `json:"inputs,omitempty"` // nil in reports of older builds

	// The tree's size.
	Files         int   `json:"files"`
	UnpackedBytes int64 `json:"unpacked_bytes"`

	Image  *ImageReport  `json:"image,omitempty"`
	Phases []PhaseReport `json:"phases,omitempty"`
}

// ImageReport describes the written image. Digest is the raw image's
// SHA-256 as "sha256:<hex>" (its identity: the bytes a VM sees), and
// CompressedDigest the file's when Options.Output asked for .zst or .xz.
type ImageReport struct {
	Path           string `json:"path,omitempty"`
	Size           int64  `json:"size"`
	AllocatedBytes int64  `json:"allocated_bytes,omitempty"`
	BlockSize      int    `json:"block_size"`
	Blocks         int64  `json:"blocks"`
	FreeBlocks     int64  `json:"free_blocks"`
	FreeInodes     int64  `json:"free_inodes"`
	UUID           string `json:"uuid"`

	Digest           string `json:"digest,omitempty"`
	CompressedDigest string `json:"compressed_digest,omitempty"`
}

// PhaseReport is the wall time of one phase of the build; Steps are
// those of the phase's own steps (provision's unpack, install, ...).
type PhaseReport struct {
	Name    string        `json:"name"`
	Seconds float64       `json:"seconds"`
	Steps   []PhaseReport `json:"steps,omitempty"`
}

// ReadReport parses a build report written by WriteJSON, to build it
// again with Options.Lock: a field it does not know (from a newer
// rootfs-synth: perhaps an input that changes the image) is an error.
func ReadReport(r io.Reader) (*Report, error) {
	return readReport(r, true)
}

// ReadImageReport parses a build report to say what an image holds
// (inspect, diff): fields a newer rootfs-synth added are left out, so
// that an older one still describes its images.
func ReadImageReport(r io.Reader) (*Report, error) {
	return readReport(r, false)
}

func readReport(r io.Reader, strict bool) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("reading build report: %w", err)
	}
	if len(rep.Packages) == 0 {
		return nil, fmt.Errorf("reading build report: it lists no packages")
	}
	return &rep, nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// lockedWorld returns one atom per reported package that pins it to the
// exact build the report names ("name><Q1..."), so that solving them
// selects the same packages again, or fails when a repository no longer
// has one of them. A package from a tagged repository ("@edge URL") gets
// its tag ("name@edge><Q1..."), as apk masks such a package to an atom
// without it; requested is the report's world (requestedWorld).
func (r *Report) lockedWorld(requested []apk.Dependency) ([]apk.Dependency, error) {
	tags := r.packageTags(requested)
	var world []apk.Dependency
	for _, p := range r.Packages {
		if !strings.HasPrefix(p.Checksum, "Q1") {
			return nil, fmt.Errorf("reading build report: package %q has checksum %q, want Q1...", p.Name+"-"+p.Version, p.Checksum)
		}
		name := p.Name
		if tag := tags(p); tag != "" {
			name += "@" + tag
		}
		d, err := apk.ParseDependency(name + "><" + p.Checksum)
		if err != nil {
			return nil, fmt.Errorf("reading build report: package %q: %w", p.Name+"-"+p.Version, err)
		}
		world = append(world, d)
	}
	return world, nil
}

// packageTags returns the tag of the repository a reported package came
// from: the tag of the report's repository line whose index it names, or,
// where the report does not say (an image's report leaves out a
// repository that is not Alpine's), the tag of the world atom naming it.
func (r *Report) packageTags(requested []apk.Dependency) func(provision.PackageReport) string {
	byIndex := map[string]string{}
	for _, l := range r.Repositories {
		if tag, u, ok := strings.Cut(l, " "); ok && strings.HasPrefix(tag, "@") {
			byIndex[strings.TrimSuffix(u, "/")+"/"+r.Arch+"/APKINDEX.tar.gz"] = tag[1:]
		}
	}
	byName := map[string]string{}
	for _, d := range requested {
		if d.Tag != "" {
			byName[d.Name] = d.Tag
		}
	}
	return func(p provision.PackageReport) string {
		if tag, ok := byIndex[p.Repository]; ok {
			return tag
		}
		return byName[p.Name]
	}
}

// requestedWorld returns the report's world atoms (what /etc/apk/world
// holds), for a build pinned to it.
func (r *Report) requestedWorld() ([]apk.Dependency, error) {
	var world []apk.Dependency
	for _, a := range r.World {
		d, err := apk.ParseWorldAtom(a) // as strict as -p: the lock is a person's input too
		if err != nil {
			return nil, fmt.Errorf("reading build report: world atom %q: %w", a, err)
		}
		world = append(world, d)
	}
	return world, nil
}
