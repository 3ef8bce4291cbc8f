package main

import (
	"errors"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// hint is what to try after err, as "; try ..." to end its line, or "".
// The library says what failed; what a person can do about it is said in
// flags, here.
func hint(err error) string {
	var unknownKey *apk.UnknownKeyError
	switch {
	case errors.As(err, &unknownKey):
		return "; give the directory of its public key with --keys-dir DIR"
	case errors.Is(err, apk.ErrUnreachable):
		return "; try another --mirror URL, or --offline after `rootfs-synth fetch`"
	}
	return ""
}
