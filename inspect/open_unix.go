//go:build unix

package inspect

import (
	"os"
	"syscall"
)

// openImage opens without blocking: a FIFO handed over as an image would
// otherwise wait for a writer; read then finds it is no regular file.
func openImage(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
