#!/usr/bin/env bash
# bench-attach-storm.sh [N] — an attach connection storm, shim against the
# system's conmon in one run: one idle `sleep` container per monitor (podman,
# --conmon), then N (default 10000) connect-and-close on each attach socket
# (hack/attachstorm, one connection at a time). Prints per monitor the CPU
# seconds the monitor used (utime+stime), its RSS before / peak / SETTLE
# after the storm, open fds and threads before/after, and shim's goroutines
# (its monitor runs with SHIM_METRICS=1 for that; conmon ignores it). conns is
# how many connections were made: a monitor that stops accepting (at its fd
# limit) ends its storm after attachstorm's 5 s connect timeout.
# Environment: as hack/bench-start.sh, plus SETTLE (default 2s), CONC
# (connecting goroutines, default 1) and HOLD=1 (keep all N open, then close).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${1:-${N:-10000}}
settle=${SETTLE:-2s}
need_monitor "$SHIM_BIN"
need_monitor "$REF_CONMON"
"$hack_dir/make-image.sh" >/dev/null
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}

bench_scratch
(cd "$repo_dir" && "$GO" build -o "$work/attachstorm" ./hack/attachstorm)

# The monitors get SHIM_METRICS=1 ([engine] is the file's last table).
{ cat "$CONTAINERS_CONF"; echo 'conmon_env_vars = ["SHIM_METRICS=1"]'; } >"$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf

# storm LABEL MONITOR: prints LABEL and attachstorm's key=value line.
storm() {
	local label=$1 mon=$2 name=$prefix-$1 pid bundle metrics=()
	tpodman --conmon "$mon" run -d --name "$name" "$IMAGE" sleep 1000 >/dev/null
	pid=$(tpodman inspect --format '{{.State.ConmonPid}}' "$name")
	bundle=$(tpodman inspect --format '{{.StaticDir}}' "$name")
	[ "$label" = shim ] && metrics=(-metrics "$bundle")
	sleep 1 # let the monitor settle
	local flags=(-n "$n" -c "${CONC:-1}" -pid "$pid" -settle "$settle")
	[ "${HOLD:-0}" = 1 ] && flags+=(-hold)
	echo "$label $("$work/attachstorm" "${flags[@]}" "${metrics[@]}" "$bundle/attach")"
	tpodman rm -f -t 0 "$name" >/dev/null
}

echo "shim:   $SHIM_BIN"
echo "conmon: $REF_CONMON ($("$REF_CONMON" --version | head -1))"
echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $n connect+close per monitor, figures after $settle"
{
	storm conmon "$REF_CONMON"
	storm shim "$SHIM_BIN"
} | awk '
	{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[$1, kv[1]] = kv[2] } mons[++m] = $1 }
	END {
		printf "%-8s %7s %8s %7s %9s %9s %9s %12s %10s %11s\n", "monitor", "conns", "wall_s", "cpu_s",
			"rss_KiB", "peak_KiB", "after_KiB", "fds", "threads", "goroutines"
		for (i = 1; i <= m; i++) {
			k = mons[i]
			printf "%-8s %7s %8s %7s %9s %9s %9s %12s %10s %11s\n", k, v[k, "connections"], v[k, "wall_s"], v[k, "cpu_s"],
				v[k, "rss_kib_before"], v[k, "rss_kib_peak"], v[k, "rss_kib_after"],
				v[k, "fds_before"] "->" v[k, "fds_after"], v[k, "threads_before"] "->" v[k, "threads_after"],
				v[k, "goroutines_before"] "->" v[k, "goroutines_after"]
		}
	}'
