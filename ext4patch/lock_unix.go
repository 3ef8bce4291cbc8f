//go:build unix && !linux

package ext4patch

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on the file, without waiting, so that
// two patchers exclude each other.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errors.New("another process holds a lock on it (a VM or another patch)")
	}
	return err
}

// unlockFile releases the lock before the file is closed (see the Linux
// version).
func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
