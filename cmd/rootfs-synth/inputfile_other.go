//go:build !unix

package main

import "os"

// openNonblocking opens name for reading: on Windows (and others
// without O_NONBLOCK) opening does not wait on a pipe's writer.
func openNonblocking(name string) (*os.File, error) { return os.Open(name) }
