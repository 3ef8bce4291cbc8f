//go:build !linux && !darwin

package hostfs

import "io/fs"

// StatOf knows nothing beyond fs.FileInfo here: owner 0:0, no hard links.
func StatOf(fs.FileInfo) Stat { return Stat{Nlink: 1} }
