#!/usr/bin/env bash
# bench-mem.sh [N] — memory of idle monitors: start N (default 30) detached
# `sleep 1000` containers with the system's conmon, then N with shim; for each
# monitor (ConmonPid from `podman inspect`) sum Pss and Private_Dirty from
# /proc/PID/smaps_rollup, print per-monitor averages, remove the containers.
# Environment: as hack/bench-start.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${1:-${N:-30}}
need_monitor "$SHIM_BIN"
need_monitor "$REF_CONMON"
"$hack_dir/make-image.sh" >/dev/null

prefix=shimbench-$$
cleanup() {
	local ids
	ids=$(tpodman ps -aq --filter "name=^$prefix-" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || tpodman rm -f -t 0 $ids >/dev/null 2>&1 || true
}
trap cleanup EXIT

# measure LABEL MONITOR: prints "LABEL count avg_pss_kib avg_private_dirty_kib avg_rss_kib"
measure() {
	local label=$1 mon=$2 i name pid pss=0 pd=0 rss=0 count=0
	for ((i = 0; i < n; i++)); do
		tpodman --conmon "$mon" run -d --name "$prefix-$label-$i" "$IMAGE" sleep 1000 >/dev/null
	done
	sleep 1 # let the monitors settle (first-read buffers, lazy pages)
	for ((i = 0; i < n; i++)); do
		name=$prefix-$label-$i
		pid=$(tpodman inspect --format '{{.State.ConmonPid}}' "$name")
		if [ ! -r "/proc/$pid/smaps_rollup" ]; then
			echo "bench-mem: monitor $pid of $name is gone" >&2
			exit 1
		fi
		read -r p d r < <(awk '/^Pss:/ { p = $2 } /^Private_Dirty:/ { d = $2 } /^Rss:/ { r = $2 }
			END { print p, d, r }' "/proc/$pid/smaps_rollup")
		pss=$((pss + p)) pd=$((pd + d)) rss=$((rss + r)) count=$((count + 1))
	done
	cleanup
	echo "$label $count $((pss / count)) $((pd / count)) $((rss / count))"
}

read -r _ c_n c_pss c_pd c_rss < <(measure conmon "$REF_CONMON")
read -r _ s_n s_pss s_pd s_rss < <(measure shim "$SHIM_BIN")

echo "idle monitors: $n x 'sleep 1000', averages per monitor (KiB)"
printf '%-8s %6s %10s %15s %10s\n' monitor count Pss Private_Dirty Rss
printf '%-8s %6s %10s %15s %10s\n' conmon "$c_n" "$c_pss" "$c_pd" "$c_rss"
printf '%-8s %6s %10s %15s %10s\n' shim "$s_n" "$s_pss" "$s_pd" "$s_rss"
awk -v s="$s_pss" -v c="$c_pss" -v sd="$s_pd" -v cd="$c_pd" \
	'BEGIN { printf "ratio shim/conmon: Pss %.2f, Private_Dirty %.2f\n", s / c, sd / cd }'
