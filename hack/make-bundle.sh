#!/usr/bin/env bash
# make-bundle.sh DIR [ARG...] — an OCI bundle in DIR: DIR/rootfs (busybox, see
# make-rootfs.sh) and DIR/config.json from `runc spec`, with process.args set to
# ARG... (default: sh -c 'echo hello from the bundle') and terminal false.
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
for tool in runc jq; do
	command -v "$tool" >/dev/null || { echo "make-bundle: $tool not found; run hack/install-deps.sh" >&2; exit 1; }
done

mkdir -p "$dir"
"$here/make-rootfs.sh" "$dir/rootfs" >/dev/null
rm -f "$dir/config.json"
runc spec --bundle "$dir"
# One `--arg` per word: jq would take a word such as -c for its own option.
args=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -sc .)
jq --argjson args "$args" '.process.args = $args | .process.terminal = false' \
	<"$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
echo "make-bundle: $(cd "$dir" && pwd): $(jq -c .process.args "$dir/config.json")"
