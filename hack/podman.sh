#!/usr/bin/env bash
# podman.sh [ARG...] — podman on the project's own store (hack/lib.sh) with
# hack/containers.conf, e.g.
#   hack/podman.sh --conmon "$PWD/bin/shim" run --rm localhost/shim-busybox echo hi
#   hack/podman.sh ps -a
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC2086
exec podman $PODMAN_OPTS "$@"
