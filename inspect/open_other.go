//go:build !unix

package inspect

import "os"

func openImage(name string) (*os.File, error) { return os.Open(name) }
