//go:build !unix

package imagefile

import "io/fs"

// AllocatedBytes is the file's size where the system does not tell the
// space it takes.
func AllocatedBytes(fi fs.FileInfo) int64 { return fi.Size() }
