//go:build !unix

package imagefile

import "io/fs"

// allocatedBytes is the file's size where the system does not tell the
// space it takes.
func allocatedBytes(fi fs.FileInfo) int64 { return fi.Size() }
