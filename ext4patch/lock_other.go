//go:build !unix

package ext4patch

import "os"

// lockFile takes no lock where there are no advisory locks to take.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
