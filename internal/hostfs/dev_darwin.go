package hostfs

// devNumbers splits a dev_t as macOS's major() and minor() do: 8 and 24 bits.
func devNumbers(rdev uint64) (major, minor uint32) {
	return uint32(rdev>>24) & 0xff, uint32(rdev) & 0xffffff
}
