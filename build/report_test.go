package build

import (
	"slices"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/provision"
)

// TestReadImageReport: a report with a field this version does not know
// (written by a newer one) is read to describe an image, and refused as a
// lock, which must know every input.
func TestReadImageReport(t *testing.T) {
	const data = `{"arch": "x86_64", "packages": [{"name": "a", "version": "1-r0", "checksum": "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="}], "future": 1}`
	if rep, err := ReadImageReport(strings.NewReader(data)); err != nil || rep.Arch != "x86_64" || len(rep.Packages) != 1 {
		t.Errorf("ReadImageReport of a newer report = %+v, %v; want it read", rep, err)
	}
	if _, err := ReadReport(strings.NewReader(data)); err == nil || !strings.Contains(err.Error(), "future") {
		t.Errorf("ReadReport of a newer report = %v, want an error naming its unknown field", err)
	}
}

// TestInImageRepositories: the report an image keeps names Alpine's own
// repositories by the official mirror, whichever served them, and leaves
// out any other (a team's, one on this machine), so that where a build
// fetched its packages, which a lock does not pin, cannot change the
// image's bytes.
func TestInImageRepositories(t *testing.T) {
	rep := &Report{Arch: "x86_64",
		Repositories: []string{"http://127.0.0.1:8080/alpine/v3.23/main", "@edge https://mirror.example/alpine/edge/testing",
			"https://pkgs.example/team", "file:///srv/repo"},
		Packages: []provision.PackageReport{
			{Name: "a", Repository: "http://127.0.0.1:8080/alpine/v3.23/main/x86_64/APKINDEX.tar.gz"},
			{Name: "b", Repository: "https://pkgs.example/team/x86_64/APKINDEX.tar.gz"},
		}}
	in := rep.InImage()
	if want := []string{DefaultMirror + "/v3.23/main", "@edge " + DefaultMirror + "/edge/testing"}; !slices.Equal(in.Repositories, want) {
		t.Errorf("InImage repositories = %q, want %q", in.Repositories, want)
	}
	if got := []string{in.Packages[0].Repository, in.Packages[1].Repository}; !slices.Equal(got, []string{DefaultMirror + "/v3.23/main/x86_64/APKINDEX.tar.gz", ""}) {
		t.Errorf("InImage package repositories = %q, want a's by the official mirror, none for b's", got)
	}
	if rep.Packages[1].Repository == "" {
		t.Errorf("InImage changed the report it was made from")
	}
}
