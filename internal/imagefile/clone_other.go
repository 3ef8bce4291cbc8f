//go:build !linux

package imagefile

import (
	"context"
	"os"
)

// reflink is Linux's FICLONE only: macOS's clonefile(2) makes a new
// file by name rather than filling the staged one, so it is left out
// and a sparse copy used.
func reflink(dst, src *os.File) bool { return false }

// copyRange copies nothing: sparseCopy goes through memory.
func copyRange(context.Context, *os.File, *os.File, dataRange) (bool, error) { return false, nil }
