#!/usr/bin/env bash
# xz.sh - the .xz output benchmark (issue 16): `rootfs-synth mkfs -o x.xz`
# of a ~391 MiB image (the size of the build that took 4 min 14 s) against
# the system's `xz -6 -T1` and `xz -6 -T2` of the same raw image, side by
# side in one run, with `-o x.zst` for the faster choice.
#
# The tree is the Go toolchain (GOROOT: ~270 MB of binaries, archives and
# source text, a mix like a root filesystem's); the image is made at 391
# MiB with --size, so its free space is zeros, as a build's headroom is.
# Each row: wall time and CPU time, user + system (GNU time, one run: the
# machine may be shared, so read the figures side by side, and CPU time
# where the load is high), peak RSS, compressed size. Every .xz is
# checked with `xz -t` and decompressed back to the raw image (cmp).
# RS_OLD=path also times an older rootfs-synth binary (e.g. one built from
# the commit before the parallel compressor).
#
# usage: bench/xz.sh        (needs go, xz, zstd, GNU time)
# env:   BENCH_DIR  work directory (default /dev/shm/rootfs-synth-xz-bench),
#                   removed at the end
#        RS_OLD     an older rootfs-synth to time as well
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C SOURCE_DATE_EPOCH=1700000000
W=${BENCH_DIR:-/dev/shm/rootfs-synth-xz-bench}
TIME=/usr/bin/time
for t in go xz zstd cmp; do command -v $t >/dev/null || { echo "xz.sh: needs $t" >&2; exit 2; }; done
[ -x $TIME ] || { echo "xz.sh: needs GNU time at $TIME" >&2; exit 2; }
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
go build -o "$W/rootfs-synth" ./cmd/rootfs-synth
"$W/rootfs-synth" mkfs "$(go env GOROOT)" --size 391M -o "$W/raw.ext4" >/dev/null

# row NAME OUTPUT CMD... - time CMD, which writes OUTPUT
row() {
	local name=$1 out=$2
	shift 2
	$TIME -f '%e %M %U %S' -o "$W/time" "$@" >/dev/null
	read -r wall rss user sys <"$W/time"
	printf '%-34s %8.1f s %8.1f s %8.0f MiB %10.1f MiB\n' "$name" "$wall" "$(echo "$user + $sys" | bc -l)" "$((rss / 1024))" \
		"$(echo "$(stat -c %s "$out") / 1048576" | bc -l)"
	case $out in
	*.xz)
		xz -t "$out"
		xz -dc "$out" | cmp - "$W/raw.ext4"
		;;
	esac
	rm -f "$out"
}
printf 'raw image: %s bytes, %s CPUs\n' "$(stat -c %s "$W/raw.ext4")" "$(nproc)"
printf '%-34s %10s %10s %12s %14s\n' "" wall CPU "peak RSS" compressed
tree=$(go env GOROOT)
if [ -n "${RS_OLD:-}" ]; then
	row "rootfs-synth (RS_OLD) -o .xz" "$W/old.ext4.xz" "$RS_OLD" mkfs "$tree" --size 391M -o "$W/old.ext4.xz"
fi
row "rootfs-synth mkfs -o .xz" "$W/rs.ext4.xz" "$W/rootfs-synth" mkfs "$tree" --size 391M -o "$W/rs.ext4.xz"
row "rootfs-synth mkfs -o .zst" "$W/rs.ext4.zst" "$W/rootfs-synth" mkfs "$tree" --size 391M -o "$W/rs.ext4.zst"
row "xz -6 -T1 (raw image)" "$W/raw.ext4.xz" xz -6 -T1 -k "$W/raw.ext4"
row "xz -6 -T2 (raw image)" "$W/raw.ext4.xz" xz -6 -T2 -k "$W/raw.ext4"
