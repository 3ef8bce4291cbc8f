package hostfs

// devNumbers splits a dev_t as glibc's gnu_dev_major and gnu_dev_minor do.
func devNumbers(rdev uint64) (major, minor uint32) {
	return uint32((rdev>>8)&0xfff | (rdev>>32)&^0xfff), uint32(rdev&0xff | (rdev>>12)&^0xff)
}
