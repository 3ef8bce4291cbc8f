//go:build !linux

package hostfs

import "errors"

// Xattrs reads none outside Linux (see the package doc).
func Xattrs(string) (map[string][]byte, error) { return nil, nil }

// SetXattr is not supported outside Linux.
func SetXattr(p, name string, v []byte) error {
	return errors.New("setting xattr " + name + " of " + p + ": only supported on Linux")
}
