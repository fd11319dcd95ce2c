#!/usr/bin/env bash
# make-rootfs.sh [DIR] — a minimal busybox root file system in DIR
# (default: build/rootfs). One static busybox, a relative symlink per applet
# in /bin, and the usual mount points. Idempotent: refreshes DIR in place.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-$here/../build/rootfs}
busybox=${BUSYBOX:-/bin/busybox}

if [ ! -x "$busybox" ]; then
	echo "make-rootfs: $busybox not found; run hack/install-deps.sh (package busybox-static)" >&2
	exit 1
fi

mkdir -p "$dir"
cd "$dir"
mkdir -p bin sbin usr/bin usr/sbin etc root var dev proc sys run tmp var/tmp
chmod 1777 tmp var/tmp
install -m 0755 "$busybox" bin/busybox

# One symlink per applet, all in /bin (PATH in the image covers /bin).
for applet in $(bin/busybox --list); do
	[ "$applet" = busybox ] && continue
	ln -sfn busybox "bin/$applet"
done

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >etc/group
: >etc/hosts
: >etc/resolv.conf
echo "make-rootfs: $(cd "$dir" && pwd) ($(ls bin | wc -l) entries in /bin)"
