#!/usr/bin/env bash
# bench-logs.sh [ROUNDS] — the log path, shim against the system's conmon,
# interleaved (shim, conmon, conmon, shim, ...) on the same workloads:
#   k8s100       512 MiB of 100-byte lines into k8s-file
#   k8s64k       512 MiB of 64 KiB lines into k8s-file
#   journald100  96 MiB of 100-byte lines into journald
# ROUNDS runs per monitor and workload (default 3, after one small warm-up
# run each). Prints, per workload and monitor, the median throughput (MiB/s
# of container output, from `runc start` until the monitor has exited) and
# the median CPU seconds the monitor itself used per GiB, and the ratios.
#
# Each run drives the monitor the way podman does, with runc and no podman
# (hack/benchlogs): the container cats a 16 MiB file (busybox cat uses
# sendfile, so the container costs little and the monitor is the
# bottleneck). The benchmark process is a child subreaper: the monitor's
# daemon becomes its child, and its utime+stime are read from
# /proc/PID/stat once it has exited and before it is reaped, which is
# exactly the daemon's own CPU, without the container's.
# Logs go to $LOGDIR (default: a scratch directory under $TMPDIR); both
# monitors get --no-sync-log, so the final fsync (disk time) is not counted.
# Needs root (runc). journald is started if it is not running.
# Environment: SHIM_BIN (default bin/shim), REF_CONMON (default
# /usr/bin/conmon), ONLY (comma-separated workloads), LOGDIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=${1:-${ROUNDS:-3}}
need_monitor "$SHIM_BIN"
need_monitor "$REF_CONMON"
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-logs: needs root (it runs containers with runc)" >&2
	exit 1
fi
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}

# journald: a socket file can outlive its daemon, so probe by sending.
journald_up() { echo "shim bench-logs probe" | systemd-cat -t shim-bench 2>/dev/null; }
case ",${ONLY:-journald100}," in
*,journald100,*)
	if ! journald_up; then
		echo "bench-logs: starting systemd-journald" >&2
		setsid /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
		for _ in $(seq 50); do
			journald_up && break
			sleep 0.1
		done
		journald_up || { echo "bench-logs: systemd-journald did not come up" >&2; exit 1; }
	fi
	;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$repo_dir" && "$GO" build -o "$work/benchlogs" ./hack/benchlogs)

echo "shim:   $SHIM_BIN"
echo "conmon: $REF_CONMON ($("$REF_CONMON" --version | head -1))"
echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), net.unix.max_dgram_qlen $(cat /proc/sys/net/unix/max_dgram_qlen)"
cd "$repo_dir"
"$work/benchlogs" -shim "$SHIM_BIN" -conmon "$REF_CONMON" -rounds "$rounds" \
	-work "$work/scratch" ${LOGDIR:+-logdir "$LOGDIR"} ${ONLY:+-only "$ONLY"}
