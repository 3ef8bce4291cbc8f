//go:build unix

package main

import (
	"os"
	"syscall"
)

// openNonblocking opens name with O_NONBLOCK: opening a FIFO for
// reading would otherwise wait for a writer. For a regular file or a
// block device the flag changes nothing; callers refuse other kinds after
// an fstat, before reading.
func openNonblocking(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
