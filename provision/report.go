package provision

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// ReadReport parses a build report written by WriteJSON, e.g. for --lock.
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
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

// LockedWorld returns one atom per reported package that pins it to the
// exact build the report names ("name><Q1..."), so that solving them
// selects the same packages again, or fails when a repository no longer
// has one of them.
func (r *Report) LockedWorld() ([]apk.Dependency, error) {
	var world []apk.Dependency
	for _, p := range r.Packages {
		if !strings.HasPrefix(p.Checksum, "Q1") {
			return nil, fmt.Errorf("reading build report: package %s-%s has checksum %q, want Q1...", p.Name, p.Version, p.Checksum)
		}
		d, err := apk.ParseDependency(p.Name + "><" + p.Checksum)
		if err != nil {
			return nil, fmt.Errorf("reading build report: package %s-%s: %w", p.Name, p.Version, err)
		}
		world = append(world, d)
	}
	return world, nil
}

// RequestedWorld returns the report's world atoms (what /etc/apk/world
// holds), for a build pinned to it.
func (r *Report) RequestedWorld() ([]apk.Dependency, error) {
	var world []apk.Dependency
	for _, a := range r.World {
		d, err := apk.ParseDependency(a)
		if err != nil {
			return nil, fmt.Errorf("reading build report: world atom %q: %w", a, err)
		}
		world = append(world, d)
	}
	return world, nil
}
