#!/usr/bin/env bash
# build.sh - the build benchmark (issues 7 and 8): `rootfs-synth` building a
# "balanced"-sized world (150 synthetic packages + the alpinetest base,
# 25,000 files, 250 MB unpacked) from a loopback mirror, cold (empty cache)
# and warm, as whole processes, side by side in the same run with
# `mke2fs -t ext4 -d` of the same unpacked tree; then the same at 4x.
#
# Steps, per size:
#   1. bench/alpinemirror writes the signed mirror (internal/alpinetest) and
#      lists the bench-world closure's .apk files;
#   2. the packages' data tars are unpacked once into a directory with tar,
#      plus the 304 busybox applet links (what the build makes too);
#   3. the mirror is served on 127.0.0.1 (bench/alpinemirror serve, a Go
#      file server);
#   4. measured with /usr/bin/time -v (wall time and peak RSS):
#        cold    rootfs-synth --mirror URL --branch v3.23 --keys-dir KEYS
#                  --profile none -p bench-world --cache-dir C -o rs.img
#                  --report report.json           (C emptied before each run)
#        warm    the same with C kept from the cold runs
#        mke2fs  mke2fs -q -F -t ext4 -b 4096 -N INODES -d TREE mk.img BLOCKS
#                (rs.img's block and inode counts, or an estimate when the
#                build failed)
#      wall is the best of $RUNS (default 3; the machine is shared), RSS the
#      worst; every image is checked with e2fsck -fn; the report's per-phase
#      times are printed when the build writes one.
#   Goals (issue 8): warm <= 0.7 x mke2fs, cold <= 1.5 x mke2fs, RSS <= 256 MiB,
#   and RSS flat from 1x to 4x.
#
# usage: bench/build.sh            (needs go, tar, e2fsprogs, GNU time; the
#                                   shared test data at ../shared/testdata)
# env:   BENCH_DIR  work directory (default /dev/shm/rootfs-synth-build-bench,
#                   a tmpfs so disk speed does not count; the 4x case needs
#                   ~6 GB there), removed at the end
#        SIZES      multiples of the balanced size to run (default "1 4")
#        RUNS       runs per measurement (default 3)
#        BUILD_ARGS extra arguments for every rootfs-synth build
# Exit status: 0 when every build and check succeeded, 1 otherwise (the
# table is printed either way; a failed build shows FAILED and its error).
set -uo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
W=${BENCH_DIR:-/dev/shm/rootfs-synth-build-bench}
SIZES=${SIZES:-1 4}
RUNS=${RUNS:-3}
TIME=/usr/bin/time
PATH=$PATH:/usr/sbin:/sbin
for t in go tar mke2fs e2fsck dumpe2fs; do
	command -v $t >/dev/null || { echo "build.sh: needs $t" >&2; exit 2; }
done
[ -x $TIME ] || { echo "build.sh: needs GNU time at $TIME (Debian package time)" >&2; exit 2; }
rm -rf "$W"
mkdir -p "$W/bin"
SERVER=
cleanup() {
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
set -e
go build -o "$W/bin/rootfs-synth" ./cmd/rootfs-synth
go build -o "$W/bin/alpinemirror" ./bench/alpinemirror
set +e
export SOURCE_DATE_EPOCH=1700000000 E2FSPROGS_FAKE_TIME=1700000000
STATUS=0

# measure N LABEL CMD...: runs CMD N times under GNU time; sets OK (1 when
# every run succeeded), WALL (best, s), RSS (worst, MiB) and ERR (the last
# line of a failed run's output). $BEFORE, when set, runs before each run.
measure() {
	local n=$1 label=$2 wall rss_kb
	shift 2
	WALL=999999 RSS_KB=0 RSS=- OK=1 ERR=
	for _ in $(seq "$n"); do
		[ -n "${BEFORE:-}" ] && eval "$BEFORE"
		if ! $TIME -v -o "$W/time.txt" "$@" >"$W/out.txt" 2>&1; then
			OK=0 ERR=$(grep -v '^\s*$' "$W/out.txt" | tail -n 1)
			echo "# $label failed: $ERR" >&2
			return
		fi
		wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$W/time.txt")
		rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$W/time.txt")
		WALL=$(awk -v a="$WALL" -v b="$wall" 'BEGIN { print (b < a ? b : a) }')
		RSS_KB=$((rss_kb > RSS_KB ? rss_kb : RSS_KB))
	done
	RSS=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.1f", k / 1024 }')
}
field() { dumpe2fs -h "$1" 2>/dev/null | awk -F: -v f="$2" '$1 == f { gsub(/ /, "", $2); print $2 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
fsck() {
	if ! e2fsck -fn "$1" >"$W/fsck.txt" 2>&1; then
		echo "# e2fsck -fn $1 failed:" >&2
		sed 's/^/#   /' "$W/fsck.txt" | head -n 20 >&2
		STATUS=1
		return 1
	fi
}
row() { printf '%-5s %-7s %9s %9s %10s %10s  %s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
phases() { # the build report's per-phase times, whatever their key
	[ -s "$1" ] && command -v python3 >/dev/null && python3 - "$1" <<-'EOF'
		import json, sys
		try:
		    r = json.load(open(sys.argv[1]))
		except Exception as e:
		    print("#   report unreadable:", e); sys.exit()
		def walk(v, path):
		    if isinstance(v, dict) and "name" in v and "seconds" in v:
		        print("#   %s%s = %.3f s" % ("  " * len(path), v["name"], v["seconds"]))
		        for x in v.get("steps") or []:
		            walk(x, path + [v["name"]])
		    elif isinstance(v, dict):
		        for k, x in v.items():
		            walk(x, path + [k])
		    elif isinstance(v, list):
		        for x in v:
		            walk(x, path)
		    elif isinstance(v, (int, float)) and any(w in "/".join(path).lower() for w in ("phase", "time", "duration", "seconds")):
		        print("#   %s = %s" % (".".join(path), v))
		walk(r, [])
	EOF
}

echo "rootfs-synth $(git rev-parse --short HEAD), $(mke2fs -V 2>&1 | head -n 1), $(nproc) CPUs, $W, best of $RUNS"
row size tool wall_s rss_MiB image_MiB alloc_MiB vs_mke2fs
for n in $SIZES; do
	M=$W/mirror$n T=$W/tree$n C=$W/cache$n
	if ! "$W/bin/alpinemirror" write -times "$n" -list "$W/world$n.txt" "$M" >"$W/gen.txt" 2>&1; then
		echo "build.sh: generating the ${n}x mirror failed:" >&2
		cat "$W/gen.txt" >&2
		exit 1
	fi
	echo "# ${n}x: $(cat "$W/gen.txt")"
	mkdir -p "$T" "$W/keys$n"
	cp "$M"/*.rsa.pub "$W/keys$n/"
	while read -r p; do
		tar -xzf "$M/$p" -C "$T" --no-same-owner --warning=no-unknown-keyword \
			--exclude='.SIGN.*' --exclude=.PKGINFO --exclude='.pre-*' --exclude='.post-*' --exclude=.trigger ||
			{ echo "build.sh: unpacking $p failed" >&2; exit 1; }
	done <"$W/world$n.txt"
	while read -r l; do
		[ -e "$T/$l" ] || [ -L "$T/$l" ] || ln -s /bin/busybox "$T/$l"
	done <"$T/etc/busybox-paths.d/busybox"
	echo "# ${n}x tree: $(find "$T" | wc -l) entries, $(mib "$(du -sb "$T" | cut -f1)") MiB"

	rm -f "$W/url.txt"
	"$W/bin/alpinemirror" serve -url-file "$W/url.txt" "$M" >/dev/null 2>&1 &
	SERVER=$!
	for _ in $(seq 50); do [ -s "$W/url.txt" ] && break; sleep 0.1; done
	URL=$(cat "$W/url.txt")
	build=("$W/bin/rootfs-synth" --mirror "$URL" --branch v3.23 --keys-dir "$W/keys$n" --profile none
		-p bench-world --cache-dir "$C" -o "$W/rs.img" --report "$W/report.json" ${BUILD_ARGS:-})
	echo "# command: ${build[*]}"

	BEFORE="rm -rf '$C' '$W/rs.img'" measure "$RUNS" "${n}x cold" "${build[@]}"
	cold_ok=$OK cold_wall=$WALL cold_rss=$RSS cold_err=$ERR
	BEFORE="rm -f '$W/rs.img'" measure "$RUNS" "${n}x warm" "${build[@]}"
	warm_ok=$OK warm_wall=$WALL warm_rss=$RSS warm_err=$ERR
	unset BEFORE
	if [ "$warm_ok" = 1 ] && [ -f "$W/rs.img" ] && fsck "$W/rs.img"; then
		blocks=$(field "$W/rs.img" "Block count") inodes=$(field "$W/rs.img" "Inode count")
		rs_size=$(stat -c %s "$W/rs.img") rs_alloc=$(du -B1 "$W/rs.img" | cut -f1)
	else
		entries=$(find "$T" | wc -l) bytes=$(du -sb "$T" | cut -f1)
		blocks=$((bytes * 13 / 10 / 4096 + 32768)) inodes=$((entries * 13 / 10 + 4096))
		rs_size=- rs_alloc=-
		echo "# no rootfs-synth image: mke2fs gets an estimate, $blocks blocks, $inodes inodes"
	fi
	measure "$RUNS" "${n}x mke2fs" mke2fs -q -F -t ext4 -b 4096 -N "$inodes" -d "$T" "$W/mk.img" "$blocks"
	mk_ok=$OK mk_wall=$WALL mk_rss=$RSS
	[ "$mk_ok" = 1 ] && fsck "$W/mk.img"

	for r in cold warm; do
		eval "ok=\$${r}_ok wall=\$${r}_wall rss=\$${r}_rss err=\$${r}_err"
		if [ "$ok" = 1 ]; then
			row "${n}x" "$r" "$wall" "$rss" "$(mib "${rs_size/-/0}")" "$(mib "${rs_alloc/-/0}")" "$(ratio "$wall" "$mk_wall")"
		else
			row "${n}x" "$r" FAILED - - - "$err"
			STATUS=1
		fi
	done
	if [ "$mk_ok" = 1 ]; then
		row "${n}x" mke2fs "$mk_wall" "$mk_rss" "$(mib "$(stat -c %s "$W/mk.img")")" "$(mib "$(du -B1 "$W/mk.img" | cut -f1)")" 1.00
	else
		row "${n}x" mke2fs FAILED - - - "$ERR"
		STATUS=1
	fi
	phases "$W/report.json"
	kill "$SERVER" 2>/dev/null
	wait "$SERVER" 2>/dev/null
	SERVER=
	rm -rf "$M" "$T" "$C" "$W"/*.img "$W/report.json"
done
echo "# goals: warm <= 0.7 x mke2fs, cold <= 1.5 x mke2fs, peak RSS <= 256 MiB and flat from 1x to 4x"
exit $STATUS
