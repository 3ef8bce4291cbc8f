#!/usr/bin/env bash
# patch.sh - time a per-sandbox patch (authorized_keys with /root/.ssh 0700,
# hostname, session env) of a balanced-sized image (25,000 files in 1,200
# directories, 250 MB, from bench/gentree, written by rootfs-synth mkfs),
# side by side in one run on the same image:
#   library      ext4patch.Open + PutDir + 3 Puts + Commit + Close, in place
#                (bench/patchcall: in-process, as a Go control plane calls it)
#   process      rootfs-synth patch IMAGE --authorized-keys --hostname --env-file
#   clone+patch  rootfs-synth patch BASE -o NEW ... (a reflink where the work
#                directory's filesystem has one, else a sparse copy; NEW
#                removed between runs)
#   debugfs      the same patch as today's platforms do it: one
#                `debugfs -w -R` process per request (mkdir, rm, write, sif
#                mode: 9 processes)
#   debugfs -f   the same 9 requests in one `debugfs -w -f` process
#   cp+debugfs   cp --reflink=auto --sparse=always, then debugfs -w -f
#   grow 8x      rootfs-synth patch IMAGE --grow (8 times the base's size),
#                the process, on a fresh copy each run (copied untimed)
#   resize2fs 8x truncate -s to the same size + resize2fs, the same way
# Each runs N times (default 21, BENCH_RUNS) after a sync (not timed), on a
# copy of the image of its own (the in-place ones patch it again each run;
# debugfs gets a fresh copy each run, see below); the table gives the median, fastest and
# slowest in ms. Every image is e2fsck -fn clean at the end.
#
# Work files go to $BENCH_DIR (default /var/tmp/rootfs-synth-bench-patch: on
# disk, because a patch's cost is its fsyncs; a tmpfs makes them free, and
# has no reflink); it is removed at the end. Not run by CI.
#
# usage: bench/patch.sh        (needs go, bash 5, e2fsprogs, coreutils)
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
W=${BENCH_DIR:-/var/tmp/rootfs-synth-bench-patch}
N=${BENCH_RUNS:-21}
for t in debugfs e2fsck resize2fs; do command -v $t >/dev/null || PATH=$PATH:/sbin:/usr/sbin; done
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

go build -o "$W/rootfs-synth" ./cmd/rootfs-synth
go build -o "$W/gentree" ./bench/gentree
go build -o "$W/patchcall" ./bench/patchcall
"$W/gentree" -files 25000 -dirs 1200 -symlinks 0 -bytes 250000000 -seed 2 "$W/tree" >/dev/null
mkdir -p "$W/tree/etc/sbx" "$W/tree/root"
echo base >"$W/tree/etc/hostname"
SOURCE_DATE_EPOCH=1700000000 "$W/rootfs-synth" mkfs --owner 0:0 -o "$W/base.ext4" "$W/tree" >/dev/null
rm -rf "$W/tree"

echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchBenchBenchBenchBenchBenchBenchBench bench@host' >"$W/key.pub"
echo sandbox-1 >"$W/hostname"
printf 'API_URL=https://api.example\nTOKEN=s3cr3t\n' >"$W/env"
printf "export API_URL='https://api.example'\nexport TOKEN='s3cr3t'\n" >"$W/session-env.sh"
cat >"$W/debugfs.cmds" <<CMDS
mkdir /root/.ssh
sif /root/.ssh mode 040700
rm /root/.ssh/authorized_keys
write $W/key.pub /root/.ssh/authorized_keys
sif /root/.ssh/authorized_keys mode 0100600
rm /etc/hostname
write $W/hostname /etc/hostname
rm /etc/sbx/session-env.sh
write $W/session-env.sh /etc/sbx/session-env.sh
CMDS

# ROW LABEL times...: a table row of the median, fastest and slowest (ms).
ROWS=()
row() {
	local label=$1
	shift
	ROWS+=("$(printf '%s\n' "$@" | sort -g | awk -v l="$label" '{ v[NR] = $1 } END { printf "%-12s %9.2f %9.2f %9.2f", l, v[int((NR + 1) / 2)], v[1], v[NR] }')")
}

# timed CMD...: runs CMD after a sync and prints its wall time in ms
# (bash's EPOCHREALTIME: no process of its own in the timing).
timed() {
	sync
	local t0=$EPOCHREALTIME
	"$@" >/dev/null 2>"$W/err" || { echo "failed: $*" >&2; cat "$W/err" >&2; exit 1; }
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
}

cp --sparse=always "$W/base.ext4" "$W/lib.ext4"
read -r med lo hi < <("$W/patchcall" -n "$N" -keys "$W/key.pub" "$W/lib.ext4")
ROWS+=("$(printf '%-12s %9.2f %9.2f %9.2f' library "$med" "$lo" "$hi")")

cp --sparse=always "$W/base.ext4" "$W/proc.ext4"
patchargs=(--authorized-keys "$W/key.pub" --hostname sandbox-1 --env-file "$W/env")
t=()
for _ in $(seq "$N"); do t+=("$(timed "$W/rootfs-synth" patch "$W/proc.ext4" "${patchargs[@]}")"); done
row process "${t[@]}"

t=()
for i in $(seq "$N"); do
	rm -f "$W/clone.ext4"
	t+=("$(timed "$W/rootfs-synth" patch "$W/base.ext4" -o "$W/clone.ext4" "${patchargs[@]}")")
done
method=$("$W/rootfs-synth" patch "$W/base.ext4" -o "$W/clone2.ext4" "${patchargs[@]}" | sed -n 's/.*(\(.*\) of .*/\1/p')
row clone+patch "${t[@]}"

# debugfs patches a fresh copy each run (copied before the sync, not
# timed), as a platform patches a fresh clone: run again on its own
# result, `mkdir /root/.ssh` of the existing directory leaks an inode and
# leaves the image for e2fsck to fix (seen with e2fsprogs 1.47.0).
debugfs_each() {
	local line
	while IFS= read -r line; do debugfs -w -R "$line" "$1" >/dev/null 2>&1 || true; done <"$W/debugfs.cmds"
}
t=()
for _ in $(seq "$N"); do
	cp --reflink=auto --sparse=always "$W/base.ext4" "$W/dbg.ext4"
	t+=("$(timed debugfs_each "$W/dbg.ext4")")
done
row debugfs "${t[@]}"

t=()
for _ in $(seq "$N"); do
	cp --reflink=auto --sparse=always "$W/base.ext4" "$W/dbgf.ext4"
	t+=("$(timed debugfs -w -f "$W/debugfs.cmds" "$W/dbgf.ext4")")
done
row "debugfs -f" "${t[@]}"

cp_debugfs() {
	rm -f "$W/cpd.ext4"
	cp --reflink=auto --sparse=always "$W/base.ext4" "$W/cpd.ext4"
	debugfs -w -f "$W/debugfs.cmds" "$W/cpd.ext4"
}
t=()
for _ in $(seq "$N"); do t+=("$(timed cp_debugfs)"); done
row cp+debugfs "${t[@]}"

size=$(stat -c %s "$W/base.ext4")
grow=$((8 * size))
t=()
for _ in $(seq "$N"); do
	cp --reflink=auto --sparse=always "$W/base.ext4" "$W/grow.ext4"
	t+=("$(timed "$W/rootfs-synth" patch "$W/grow.ext4" --grow "$grow")")
done
row "grow 8x" "${t[@]}"

resize_8x() {
	truncate -s "$grow" "$1"
	resize2fs "$1"
}
t=()
for _ in $(seq "$N"); do
	cp --reflink=auto --sparse=always "$W/base.ext4" "$W/rsz.ext4"
	t+=("$(timed resize_8x "$W/rsz.ext4")")
done
row "resize2fs 8x" "${t[@]}"

for img in lib proc clone clone2 dbg dbgf cpd grow rsz; do
	e2fsck -fn "$W/$img.ext4" >"$W/fsck.txt" 2>&1 || { echo "e2fsck -fn $img.ext4 failed:" >&2; cat "$W/fsck.txt" >&2; exit 1; }
done

echo "keys + hostname + env into a 25,000-file image ($(du -h --apparent-size "$W/base.ext4" | cut -f1) apparent," \
	"$(du -h "$W/base.ext4" | cut -f1) allocated), $N runs each, in $W ($(df --output=fstype "$W" | tail -n 1)); clone: $method"
printf '%-12s %9s %9s %9s\n' operation 'median ms' 'min ms' 'max ms'
printf '%s\n' "${ROWS[@]}"
echo "all images e2fsck -fn clean"
