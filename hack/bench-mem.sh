#!/usr/bin/env bash
# bench-mem.sh [N] — memory of idle monitors: start N (default 30) detached
# `sleep 1000` containers with the system's conmon and N with shim,
# alternately (conmon-0, shim-0, conmon-1, ...), so that both see the same
# node; for each monitor (ConmonPid from `podman inspect`) sum Pss and
# Private_Dirty from /proc/PID/smaps_rollup and print per-monitor averages.
#
# Then "after work": the first AFTER (default 3) containers of each monitor
# are put through 256 MiB of log output (LOG_MIB; `yes` lines written to the
# container's stdout from `podman exec`), 1,000 attach sessions and 1,000
# control messages (hack/memwork; SESSIONS, CTL), then left idle for 10 s
# (SETTLE); the same monitors' Private_Dirty is printed before and after.
# AFTER=0 skips this part. Environment: as hack/bench-start.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${1:-${N:-30}}
after=${AFTER:-3}
log_mib=${LOG_MIB:-256}
sessions=${SESSIONS:-1000}
ctl=${CTL:-1000}
settle=${SETTLE:-10}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
need_monitor "$SHIM_BIN"
need_monitor "$REF_CONMON"
"$hack_dir/make-image.sh" >/dev/null

bench_scratch
if [ "$after" -gt 0 ]; then
	(cd "$repo_dir" && "$GO" build -o "$work/memwork" ./hack/memwork)
fi
# A binary written moments ago (make build) has dirty page-cache pages,
# which smaps counts as Private_Dirty of every process mapping them.
sync

# rollup PID: prints "pss private_dirty rss" (KiB)
rollup() {
	awk '/^Pss:/ { p = $2 } /^Private_Dirty:/ { d = $2 } /^Rss:/ { r = $2 }
		END { print p, d, r }' "/proc/$1/smaps_rollup"
}

monpid() {
	local pid
	pid=$(tpodman inspect --format '{{.State.ConmonPid}}' "$1")
	if [ ! -r "/proc/$pid/smaps_rollup" ]; then
		echo "bench-mem: monitor $pid of $1 is gone" >&2
		exit 1
	fi
	echo "$pid"
}

# measure LABEL: prints "LABEL count avg_pss_kib avg_private_dirty_kib avg_rss_kib"
measure() {
	local label=$1 i p d r pss=0 pd=0 rss=0
	for ((i = 0; i < n; i++)); do
		read -r p d r < <(rollup "$(monpid "$prefix-$label-$i")")
		pss=$((pss + p)) pd=$((pd + d)) rss=$((rss + r))
	done
	echo "$label $n $((pss / n)) $((pd / n)) $((rss / n))"
}

# afterwork LABEL: prints "LABEL count avg_private_dirty_fresh avg_private_dirty_after"
afterwork() {
	local label=$1 i name pid dir d fresh=0 done_=0 line
	line=$(printf '%099d' 0)
	for ((i = 0; i < after; i++)); do
		name=$prefix-$label-$i
		pid=$(monpid "$name")
		read -r _ d _ < <(rollup "$pid")
		fresh=$((fresh + d))
		tpodman exec "$name" sh -c "yes $line | head -c $((log_mib << 20)) >/proc/1/fd/1"
		dir=$(tpodman inspect --format '{{.StaticDir}}' "$name")
		"$work/memwork" -dir "$dir" -sessions "$sessions" -ctl "$ctl"
	done
	sleep "$settle"
	for ((i = 0; i < after; i++)); do
		read -r _ d _ < <(rollup "$(monpid "$prefix-$label-$i")")
		done_=$((done_ + d))
	done
	echo "$label $after $((fresh / after)) $((done_ / after))"
}

for ((i = 0; i < n; i++)); do
	tpodman --conmon "$REF_CONMON" run -d --name "$prefix-conmon-$i" "$IMAGE" sleep 1000 >/dev/null
	tpodman --conmon "$SHIM_BIN" run -d --name "$prefix-shim-$i" "$IMAGE" sleep 1000 >/dev/null
done
sleep 1 # let the monitors settle (first-read buffers, lazy pages)
read -r _ c_n c_pss c_pd c_rss < <(measure conmon)
read -r _ s_n s_pss s_pd s_rss < <(measure shim)

echo "idle monitors: $n x 'sleep 1000', averages per monitor (KiB)"
printf '%-8s %6s %10s %15s %10s\n' monitor count Pss Private_Dirty Rss
printf '%-8s %6s %10s %15s %10s\n' conmon "$c_n" "$c_pss" "$c_pd" "$c_rss"
printf '%-8s %6s %10s %15s %10s\n' shim "$s_n" "$s_pss" "$s_pd" "$s_rss"
awk -v s="$s_pss" -v c="$c_pss" -v sd="$s_pd" -v cd="$c_pd" \
	'BEGIN { printf "ratio shim/conmon: Pss %.2f, Private_Dirty %.2f\n", s / c, sd / cd }'

[ "$after" -gt 0 ] || exit 0
read -r _ c_a c_fresh c_after < <(afterwork conmon)
read -r _ s_a s_fresh s_after < <(afterwork shim)
echo "after work: $log_mib MiB of log output, $sessions attach sessions, $ctl control messages, then ${settle} s idle;"
echo "Private_Dirty of the same monitors, averages (KiB)"
printf '%-8s %6s %10s %10s %10s\n' monitor count fresh after growth
printf '%-8s %6s %10s %10s %10s\n' conmon "$c_a" "$c_fresh" "$c_after" "$((c_after - c_fresh))"
printf '%-8s %6s %10s %10s %10s\n' shim "$s_a" "$s_fresh" "$s_after" "$((s_after - s_fresh))"
