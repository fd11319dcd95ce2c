#!/usr/bin/env bash
# make-bundle.sh DIR [ARG...] — an OCI bundle in DIR: DIR/rootfs (busybox, see
# make-rootfs.sh) and DIR/config.json from `runc spec`, with process.args set to
# ARG... (default: sh -c 'echo hello from the bundle') and terminal false
# (hack/bundlespec: through the runtime-spec types, as the tests write theirs).
# Example:
#   hack/make-bundle.sh /tmp/b sh -c 'echo hi; exit 3'
#   runc run -b /tmp/b demo; echo $?
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -lt 1 ]; then
	echo "usage: $0 DIR [ARG...]" >&2
	exit 2
fi
dir=$1
shift
[ $# -gt 0 ] || set -- sh -c 'echo hello from the bundle'
command -v runc >/dev/null || { echo "make-bundle: runc not found; run hack/install-deps.sh" >&2; exit 1; }
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
"$here/make-rootfs.sh" "$dir/rootfs" >/dev/null
rm -f "$dir/config.json"
runc spec --bundle "$dir"
args=$(cd "$here/.." && "$GO" run ./hack/bundlespec "$dir/config.json" "$@")
echo "make-bundle: $dir: $args"
