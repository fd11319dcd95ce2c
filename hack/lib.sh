# shellcheck shell=bash
# Sourced by the hack scripts: podman settings shared with the integration
# tests (integration/podman_helpers_test.go uses the same defaults).
#
# Tests, benchmarks and the demo use their own podman store so they never touch
# the machine's default one (/var/lib/containers, /run/containers, /run/libpod),
# with hack/containers.conf (which gives that store file-based locks):
#   SHIM_TEST_STORE  image/container storage   (default /var/lib/shim-test/storage)
#   SHIM_TEST_RUN    run-time state (tmpfs)    (default /run/shim-test)

hack_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$hack_dir/.." && pwd)

SHIM_TEST_STORE=${SHIM_TEST_STORE:-/var/lib/shim-test/storage}
SHIM_TEST_RUN=${SHIM_TEST_RUN:-/run/shim-test}
IMAGE=${IMAGE:-localhost/shim-busybox:latest}
SHIM_BIN=${SHIM_BIN:-$repo_dir/bin/shim}
REF_CONMON=${REF_CONMON:-/usr/bin/conmon}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$hack_dir/containers.conf}
export IMAGE

PODMAN_OPTS=${PODMAN_OPTS:-"--root $SHIM_TEST_STORE --runroot $SHIM_TEST_RUN/storage --tmpdir $SHIM_TEST_RUN/libpod --runtime runc --cgroup-manager cgroupfs --events-backend file"}
export PODMAN_OPTS

# tpodman [podman args...]: podman on the test store.
tpodman() {
	# shellcheck disable=SC2086
	podman $PODMAN_OPTS "$@"
}

# rm_prefixed PREFIX: remove every container whose name starts with PREFIX-
# (a benchmark's own, whatever state they are in).
rm_prefixed() {
	local ids
	ids=$(tpodman ps -aq --filter "name=^$1-" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || tpodman rm -f -t 0 $ids >/dev/null 2>&1 || true
}

# bench_scratch: this run's container name prefix ($prefix) and scratch
# directory ($work), both removed when the script exits.
bench_scratch() {
	prefix=shimbench-$$
	work=$(mktemp -d)
	trap 'rm_prefixed "$prefix"; rm -rf "$work"' EXIT
}

need_monitor() {
	local bin=$1
	if [ ! -x "$bin" ]; then
		echo "$(basename "$0"): $bin not found or not executable (run 'make build', or set SHIM_BIN)" >&2
		exit 1
	fi
}
