#!/usr/bin/env bash
# demo.sh — a real busybox container under shim through podman.
# Runs on the project's own podman store with hack/containers.conf (see
# hack/lib.sh); `make demo` installs the dependencies, builds shim and imports
# the image first.
# Environment: SHIM_BIN (default bin/shim).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SHIM_BIN=$(cd "$(dirname "$SHIM_BIN")" && pwd)/$(basename "$SHIM_BIN")
need_monitor "$SHIM_BIN"
"$hack_dir/make-image.sh" >/dev/null

p() { tpodman --conmon "$SHIM_BIN" "$@"; }
if [ -t 1 ]; then bold=$'\033[1m' off=$'\033[0m'; else bold='' off=''; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$off"; }

say "$SHIM_BIN --version"
"$SHIM_BIN" --version

echo "(hack/podman.sh = podman on the project's own store with hack/containers.conf: runc, no network, ulimits)"
say hack/podman.sh --conmon "$SHIM_BIN" run --rm $IMAGE echo hello from shim
p run --rm "$IMAGE" echo hello from shim

name=shim-demo-$$
trap 'tpodman rm -f -t 0 "$name" >/dev/null 2>&1 || true' EXIT
say hack/podman.sh --conmon ... run -d --name "$name" $IMAGE sh -c "'echo started; trap \"echo bye; exit 0\" TERM; sleep 1000 & wait'"
# A binary just built is dirty in the page cache, and its mapped pages would
# show as the monitor's Private_Dirty; write it back first.
sync "$SHIM_BIN" 2>/dev/null || sync
p run -d --name "$name" "$IMAGE" sh -c 'echo started; trap "echo bye; exit 0" TERM; sleep 1000 & wait' >/dev/null
sleep 0.5

say hack/podman.sh inspect --format '{{.State.ConmonPid}} {{.State.Pid}} {{.State.Status}}' "$name"
read -r mon ctr status < <(tpodman inspect --format '{{.State.ConmonPid}} {{.State.Pid}} {{.State.Status}}' "$name")
echo "ConmonPid=$mon Pid=$ctr Status=$status"
echo "monitor $mon: exe $(readlink "/proc/$mon/exe"), parent $(awk '{print $4}' "/proc/$mon/stat")," \
	"Pss $(awk '/^Pss:/ {print $2" "$3}' "/proc/$mon/smaps_rollup")," \
	"Private_Dirty $(awk '/^Private_Dirty:/ {print $2" "$3}' "/proc/$mon/smaps_rollup")"
echo "container $ctr: parent $(awk '{print $4}' "/proc/$ctr/stat") (the monitor, as subreaper)"

say hack/podman.sh exec "$name" echo hello from exec
p exec "$name" echo hello from exec

say hack/podman.sh stop "$name"
p stop -t 5 "$name" >/dev/null
say hack/podman.sh logs "$name"
p logs "$name"
say hack/podman.sh inspect --format '{{.State.ExitCode}}' "$name"
tpodman inspect --format '{{.State.ExitCode}}' "$name"
echo
echo "demo: done (monitor $SHIM_BIN)"
