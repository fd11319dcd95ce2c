#!/usr/bin/env bash
# soak.sh [shim|conmon|both|BIN...] — prove that a monitor gives back what a
# long load takes (hack/soak). Against one long-lived podman container
# (`sleep`, k8s-file log with --log-opt max-size, so --log-size-max) it runs,
# in this order:
#   SOAK_CTL=10000         ctl messages, alternating `2 0 0` (reopen the log)
#                          and `1 24 80` (a resize, ignored without a tty)
#   SOAK_LOG_MIB=1024      MiB of 100-byte lines on the container's own stdout
#                          (written to /proc/1/fd/1 from a `podman exec`),
#                          rolled over every SOAK_LOG_MAX (default 10m)
#   SOAK_EXEC_SYNC=10000   exec syncs as CRI-O's probes do: `monitor -e --sync
#                          --exec-process-spec` of `true`, one monitor each
#   SOAK_PODMAN_EXEC=1000  `podman exec CTR true`, one exec monitor each
#   SOAK_ATTACH=10000      connect/close on the attach socket, then one line
#                          of output (row "+1 line": what the monitor gives
#                          back once writing to the closed clients failed)
# (0 skips a phase). After each phase (and up to SOAK_SETTLE seconds, default
# 5, for things to settle) it prints the monitor's fds, goroutines (shim's
# metrics socket; "-" for conmon), RSS and Private_Dirty, the container's
# monitor processes and the zombies in the soak's process tree (the host's
# are shown too, unchecked: other work makes them), and checks them against the
# phase's start: fds and goroutines exactly, memory at most 1 MiB above,
# monitors back to their number, no more zombies. The last row checks the
# end against the start. Also per phase: wall time, the long-lived monitor's
# own CPU, and the short-lived monitors' CPU (exec syncs: their own; podman
# exec: the daemon's own plus the first process's, from podman's reaped
# children). Exit status 1 if a bound or an operation failed.
#
# The monitor: shim ($SHIM_BIN, the default), conmon ($REF_CONMON), both
# (one after the other, then side by side), or binaries; also SOAK_MONITOR.
# Examples:
#   make soak                       # shim, the full counts (about an hour on 2 CPUs)
#   SOAK_MONITOR=conmon make soak
#   SOAK_EXEC_SYNC=100 SOAK_PODMAN_EXEC=20 SOAK_LOG_MIB=64 hack/soak.sh both
# Needs root. Environment: as hack/lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "soak: needs root (podman and runc)" >&2
	exit 1
fi
[ $# -gt 0 ] || set -- "${SOAK_MONITOR:-shim}"
monitors=()
for m in "$@"; do
	case $m in
	shim) monitors+=("$SHIM_BIN") ;;
	conmon) monitors+=("$REF_CONMON") ;;
	both) monitors+=("$SHIM_BIN" "$REF_CONMON") ;;
	*) monitors+=("$m") ;;
	esac
done
args=()
for m in "${monitors[@]}"; do
	need_monitor "$m"
	args+=(-monitor "$(readlink -f "$m")")
done
# A binary just built has dirty pages in the page cache, which its process
# counts as Private_Dirty until they are written back: write them first.
sync "${monitors[@]}"
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
"$hack_dir/make-image.sh" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$repo_dir" && "$GO" build -o "$work/soak" ./hack/soak)
# The monitors serve metrics (shim's goroutine count); conmon ignores it.
# [engine] must be the file's last table, so that a line at the end belongs to it.
if [ "$(grep '^\[' "$CONTAINERS_CONF" | tail -1)" != "[engine]" ]; then
	echo "soak: $CONTAINERS_CONF does not end with an [engine] table to extend" >&2
	exit 1
fi
{ cat "$CONTAINERS_CONF"; echo 'conmon_env_vars = ["SHIM_METRICS=1"]'; } >"$work/containers.conf"

echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); counts: ctl ${SOAK_CTL:-10000}," \
	"log ${SOAK_LOG_MIB:-1024} MiB (max-size ${SOAK_LOG_MAX:-10m}), exec-sync ${SOAK_EXEC_SYNC:-10000}," \
	"podman-exec ${SOAK_PODMAN_EXEC:-1000}, attach ${SOAK_ATTACH:-10000}"
rc=0
"$work/soak" -containers-conf "$work/containers.conf" -work "$work" "${args[@]}" || rc=$?
exit "$rc"
