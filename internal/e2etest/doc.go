// Package e2etest holds the end-to-end boot test: the real rootfs-synth
// binary, run as an unprivileged user against a generated, signed
// v3.23-shaped mirror served on 127.0.0.1 (internal/alpinetest, with the
// build machine's static busybox), builds an image that QEMU boots
// (internal/vmtest: TCG, -M microvm, a Debian cloud kernel,
// init=/usr/sbin/sbx-init). A hook the test lays into
// /etc/sbx/start.d prints what the guest proves and powers off; the test
// then reads the guest's write back with debugfs and checks the image with
// e2fsck. A corrupted copy must fail the same check.
//
// The same build and the same check prove the aarch64 image: a generated
// aarch64 mirror whose busybox is Debian's arm64 busybox-static, built
// with --arch aarch64 on this x86_64 machine (nothing is executed) and
// booted under qemu-system-aarch64 (vmtest.Aarch64); with the build
// machine's x86_64 busybox put in its place, the same image must fail.
//
// The guest-side check is also run against small images assembled here
// with ext4img and stand-ins for the static guest files: one from the
// host's busybox, which proves the markers and the negative controls, and
// one from the bootable repository's own packages, installed naively,
// which proves the generated repository boots — both independently of
// the build command.
//
// Left out on purpose: networking and sshd (the `ssh host cmd` path is
// reproduced by running root's passwd shell with -c, as sshd would),
// Firecracker itself (it needs /dev/kvm), and other architectures.
package e2etest
