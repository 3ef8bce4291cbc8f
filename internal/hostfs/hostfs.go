// Package hostfs reads what the standard library does not about a path of
// the host: owner, device numbers, hard-link identity and extended
// attributes. rootfs-synth mkfs copies host trees with it, and the ext4
// checker reads the reference tree of its tests with it, so both see the
// host the same way.
//
// Left out on purpose: xattrs outside Linux (macOS's com.apple.* mean
// nothing in a Linux guest, Windows has none), and owners, device numbers
// and hard links on systems other than Linux and macOS (Stat reports owner
// 0:0 and one link there).
package hostfs

// Stat is what the OS tells about a path beyond fs.FileInfo.
type Stat struct {
	Dev, Ino     uint64 // identify hard links
	Nlink        uint64
	UID, GID     uint32
	Major, Minor uint32 // a device node's numbers
}
