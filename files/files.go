// Package files holds the static files every sandbox image carries,
// embedded. STUB: the real files are being written; the API below is what
// callers use.
package files

import (
	"io/fs"
	"testing/fstest"
)

// FS returns the files as an fs.FS rooted at the guest's root, with the
// declared modes in each FileInfo (owners are root).
func FS() fs.FS { return fstest.MapFS{} }
