package build

import (
	"strings"
	"testing"
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
