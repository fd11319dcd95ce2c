#!/usr/bin/env bash
# make-image.sh — import the busybox rootfs (make-rootfs.sh) into podman as
# localhost/shim-busybox:latest. Idempotent: does nothing if the image exists.
# Environment:
#   IMAGE        image name (default localhost/shim-busybox:latest)
#   PODMAN_OPTS  global podman options selecting the store (default: the
#                project's own store, see hack/lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here=$hack_dir
image=$IMAGE
read -ra opts <<<"$PODMAN_OPTS"

command -v podman >/dev/null || { echo "make-image: podman not found; run hack/install-deps.sh" >&2; exit 1; }
if podman "${opts[@]}" image exists "$image"; then
	echo "make-image: $image already present"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/make-rootfs.sh" "$work/rootfs" >/dev/null
tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
podman "${opts[@]}" import --quiet \
	--change 'CMD ["/bin/sh"]' \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--message 'busybox rootfs for shim tests' \
	"$work/rootfs.tar" "$image" >/dev/null
echo "make-image: imported $image"
