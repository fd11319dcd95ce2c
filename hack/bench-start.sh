#!/usr/bin/env bash
# bench-start.sh [N] — start latency of `podman run --rm IMAGE true` under shim
# and under the system's conmon, interleaved (shim, conmon, shim, ...) on the
# same machine in the same run, N runs each (default 30, at least 20).
# Prints median and p90 per monitor and the shim/conmon ratio of the medians.
# With EXEC=1 it times `podman exec CTR true` instead, in one `sleep`
# container, each exec session under the monitor being measured.
# Environment: SHIM_BIN (default bin/shim), REF_CONMON (default /usr/bin/conmon),
# SHIM_TEST_STORE / SHIM_TEST_RUN (see hack/lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${1:-${N:-30}}
if [ "$n" -lt 20 ]; then
	echo "bench-start: N must be at least 20 (got $n)" >&2
	exit 2
fi
need_monitor "$SHIM_BIN"
need_monitor "$REF_CONMON"
"$hack_dir/make-image.sh" >/dev/null

work=$(mktemp -d)
ctr=
cleanup() {
	[ -z "$ctr" ] || tpodman rm -f -t 0 "$ctr" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
what=(run --rm "$IMAGE" true)
if [ "${EXEC:-0}" = 1 ]; then
	ctr=shimbench-exec-$$
	tpodman --conmon "$SHIM_BIN" run -d --name "$ctr" "$IMAGE" sleep 1000 >/dev/null
	what=(exec "$ctr" true)
fi

one() { # one MONITOR OUTFILE: time one run in ms, appended to OUTFILE
	local t0 t1
	t0=$(date +%s%N)
	if ! tpodman --conmon "$1" "${what[@]}" >/dev/null 2>"$work/err"; then
		echo "bench-start: podman ${what[0]} with $1 failed:" >&2
		cat "$work/err" >&2
		exit 1
	fi
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000)) >>"$2"
}

# Warm-up (page cache, podman's store): not counted.
for _ in 1 2; do
	one "$SHIM_BIN" "$work/warm"
	one "$REF_CONMON" "$work/warm"
done
for ((i = 0; i < n; i++)); do
	one "$SHIM_BIN" "$work/shim"
	one "$REF_CONMON" "$work/conmon"
done

# stats FILE -> "median p90 min max" in ms (microsecond input)
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			i = int(0.9 * NR + 0.999999); if (i < 1) i = 1
			printf "%.1f %.1f %.1f %.1f\n", m / 1000, v[i] / 1000, v[1] / 1000, v[NR] / 1000
		}'
}
read -r s_med s_p90 s_min s_max < <(stats "$work/shim")
read -r c_med c_p90 c_min c_max < <(stats "$work/conmon")

echo "podman ${what[*]}, $n runs each, interleaved"
printf '%-8s %10s %10s %10s %10s\n' monitor "median ms" "p90 ms" "min ms" "max ms"
printf '%-8s %10s %10s %10s %10s\n' shim "$s_med" "$s_p90" "$s_min" "$s_max"
printf '%-8s %10s %10s %10s %10s\n' conmon "$c_med" "$c_p90" "$c_min" "$c_max"
awk -v s="$s_med" -v c="$c_med" 'BEGIN { printf "ratio shim/conmon (median): %.3f\n", s / c }'
