#!/usr/bin/env bash
# mkfs-vs-mke2fs.sh - time `rootfs-synth mkfs` against `mke2fs -t ext4 -d`, side
# by side in one run, on three generated trees:
#   alpine: ~600 entries, 8 MB (the size of an Alpine minirootfs)
#   big:    25,000 files and 1,200 directories, 250 MB
#   100k:   100,000 files in 2,000 directories, 50 MB (issue 6: peak RSS at
#           100,000 entries)
#   huge:   1,000,000 files in 20,000 directories, 500 MB (issue 6: peak RSS
#           must stay under 256 MiB); one run of each tool, not three.
#           BENCH_HUGE=0 leaves it out (it needs ~2 GB of tmpfs and minutes)
# For each: wall time and peak RSS (GNU time) of
#   rs       rootfs-synth mkfs (defaults: journal + headroom)
#   rs-fit   rootfs-synth mkfs --headroom-blocks -1 --headroom-inodes -1
#   mke2fs   mke2fs -d into an image with rs's block count, inode count and
#            journal size (it needs them given)
#   resize   resize2fs -M on the mke2fs image (mke2fs cannot right-size; it
#            spreads inodes over all groups, so -M often cannot shrink much)
# and the image sizes (apparent and allocated). Every image is checked with
# e2fsck -fn. Wall time is the best of 3 runs (1 for huge), RSS the worst. Work files go to $BENCH_DIR (default /dev/shm/rootfs-synth-bench,
# a tmpfs, so disk speed does not count); it is removed at the end.
#
# usage: bench/mkfs-vs-mke2fs.sh        (needs go, e2fsprogs, GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
W=${BENCH_DIR:-/dev/shm/rootfs-synth-bench}
TIME=/usr/bin/time
for t in mke2fs resize2fs e2fsck dumpe2fs; do command -v $t >/dev/null || PATH=$PATH:/sbin:/usr/sbin; done
[ -x $TIME ] || { echo "needs GNU time at $TIME" >&2; exit 2; }
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

go build -o "$W/rootfs-synth" ./cmd/rootfs-synth
go build -o "$W/gentree" ./bench/gentree
"$W/gentree" -files 200 -dirs 90 -symlinks 300 -bytes 8000000 "$W/alpine"
"$W/gentree" -files 25000 -dirs 1200 -symlinks 0 -bytes 250000000 -seed 2 "$W/big"
"$W/gentree" -files 100000 -dirs 2000 -symlinks 0 -bytes 50000000 -seed 4 "$W/100k"
trees="alpine big 100k"
if [ "${BENCH_HUGE:-1}" != 0 ]; then
	"$W/gentree" -files 1000000 -dirs 20000 -symlinks 0 -bytes 500000000 -seed 3 "$W/huge"
	trees="$trees huge"
fi
export SOURCE_DATE_EPOCH=1700000000 E2FSPROGS_FAKE_TIME=1700000000

# measure N LABEL CMD... : runs CMD N times under GNU time (the machine is
# shared, so the best of N), sets WALL (s) and RSS (peak, MiB)
measure() {
	local n=$1 label=$2 wall rss_kb
	shift 2
	WALL=999999 RSS_KB=0
	for _ in $(seq "$n"); do
		if ! $TIME -f '%e %M' -o "$W/time.txt" "$@" >"$W/out.txt" 2>&1; then
			echo "$label failed:" >&2
			cat "$W/out.txt" >&2
			exit 1
		fi
		read -r wall rss_kb <"$W/time.txt"
		WALL=$(awk -v a="$WALL" -v b="$wall" 'BEGIN { print (b < a ? b : a) }')
		RSS_KB=$((rss_kb > RSS_KB ? rss_kb : RSS_KB))
	done
	RSS=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.1f", k / 1024 }')
}
field() { dumpe2fs -h "$1" 2>/dev/null | awk -F: -v f="$2" '$1 == f { gsub(/ /, "", $2); print $2 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
fsck() { e2fsck -fn "$1" >/dev/null 2>&1 || { echo "e2fsck -fn $1 failed" >&2; e2fsck -fn "$1" >&2; exit 1; }; }
row() { printf '%-7s %-7s %8s %9s %12s %12s\n' "$@"; }

echo "rootfs-synth $(git rev-parse --short HEAD), $(mke2fs -V 2>&1 | head -n1), $(nproc) CPUs, $W"
row tree tool wall_s rss_MiB image_MiB alloc_MiB
for tree in $trees; do
	src=$W/$tree
	runs=3
	[ "$tree" = huge ] && runs=1
	entries=$(find "$src" | wc -l)
	bytes=$(du -sb "$src" | cut -f1)
	echo "# $tree: $entries entries, $(mib "$bytes") MiB"

	measure $runs rs "$W/rootfs-synth" mkfs "$src" -o "$W/rs.img"
	fsck "$W/rs.img"
	row "$tree" rs "$WALL" "$RSS" "$(mib "$(stat -c %s "$W/rs.img")")" "$(mib "$(du -B1 "$W/rs.img" | cut -f1)")"
	blocks=$(field "$W/rs.img" "Block count")
	inodes=$(field "$W/rs.img" "Inode count")
	jblocks=$(field "$W/rs.img" "Total journal blocks")
	rm -f "$W/rs.img" # the huge tree's images are 4.4 GiB each: keep one at a time

	measure $runs rs-fit "$W/rootfs-synth" mkfs --headroom-blocks -1 --headroom-inodes -1 "$src" -o "$W/rsfit.img"
	fsck "$W/rsfit.img"
	row "$tree" rs-fit "$WALL" "$RSS" "$(mib "$(stat -c %s "$W/rsfit.img")")" "$(mib "$(du -B1 "$W/rsfit.img" | cut -f1)")"
	rm -f "$W/rsfit.img"

	measure $runs mke2fs mke2fs -q -F -t ext4 -b 4096 -N "$inodes" -J size=$((jblocks * 4096 / 1048576)) \
		-d "$src" "$W/mk.img" "$blocks"
	fsck "$W/mk.img"
	row "$tree" mke2fs "$WALL" "$RSS" "$(mib "$(stat -c %s "$W/mk.img")")" "$(mib "$(du -B1 "$W/mk.img" | cut -f1)")"

	measure 1 resize resize2fs -M "$W/mk.img"
	fsck "$W/mk.img"
	row "$tree" resize "$WALL" "$RSS" "$(mib "$(stat -c %s "$W/mk.img")")" "$(mib "$(du -B1 "$W/mk.img" | cut -f1)")"
	grep -h 'blocks long\|Nothing to do' "$W/out.txt" | sed 's/^/        resize2fs -M: /' || true
	rm -f "$W"/*.img
done
