package ext4patch

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive open-file-description lock on the whole
// file, without waiting: QEMU (file.locking=on) holds OFD locks on bytes
// of an image it has attached, and another patcher holds this one, so
// either makes it fail. flock locks are separate from these on Linux.
func lockFile(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return errors.New("another process holds a lock on it (a VM or another patch)")
	}
	return err
}

// unlockFile releases the lock before the file is closed: a child forked
// meanwhile (by another goroutine, before its exec) shares the open file
// description, which would otherwise keep the lock until it execs.
func unlockFile(f *os.File) {
	lk := unix.Flock_t{Type: unix.F_UNLCK}
	unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}
