//go:build !linux

package main

import (
	"io"
	"os"
)

func openHostFile(p string) (io.ReadCloser, error) { return os.Open(p) }
