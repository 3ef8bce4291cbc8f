package main

import (
	"fmt"
	"io"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// Caps of the files a build reads whole into memory from a flag. They are
// far above any real use and far below what hurts: a key file holds a few
// keys of under 1 KiB each; a profile is a list of atoms; a build report
// (--lock) is about 300 bytes per package, so a balanced build's is about
// 60 KiB and heavy's some 150 KiB: 4 MiB is over 25 times that.
const (
	maxAuthorizedKeysSize = 1 << 20
	maxProfileSize        = 1 << 20
	maxLockSize           = 4 << 20
)

// readFlagFile reads the file that flag names, which must be a regular
// file of at most limit bytes: a FIFO, a device such as /dev/zero or a
// directory is refused before a byte is read (it is opened without
// blocking, so a FIFO nobody writes does not hang the build), and a file
// that turns out larger than limit is refused without reading more than
// limit+1 bytes of it. The caps are whole MiB.
func readFlagFile(flag, name string, limit int64) ([]byte, error) {
	f, err := openNonblocking(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", flag, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", flag, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %q: not a regular file (%s)", flag, name, unixmode.Kind(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", flag, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %q: larger than %d MiB", flag, name, limit>>20)
	}
	return data, nil
}
