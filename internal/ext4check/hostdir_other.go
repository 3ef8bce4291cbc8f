//go:build !linux

package ext4check

import "errors"

// FromDir is only implemented on Linux, where the tests that need it run.
func FromDir(dir string) (Manifest, error) {
	return nil, errors.New("reading a host tree manifest needs Linux")
}
