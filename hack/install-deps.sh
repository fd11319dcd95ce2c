#!/usr/bin/env bash
# Install what shim's build, tests, demo and benchmarks need on Debian/Ubuntu.
# Idempotent: runs apt-get only when a package is missing; safe to run often.
set -euo pipefail

# package -> a command (or file) that proves it is installed
declare -A want=(
	[runc]=runc
	[podman]=podman
	[conmon]=/usr/bin/conmon            # the reference monitor for comparisons
	[busybox-static]=/bin/busybox       # rootfs of the test image and bundles
	[tmux]=tmux                         # terminal (-t) scenarios
	[uidmap]=newuidmap                  # rootless podman (a Recommends of podman, not pulled in here)
	[catatonit]=catatonit               # rootless podman's pause process here (also a Recommends)
	[systemd]=/lib/systemd/systemd-journald   # journald + journalctl for the journald driver
	[psmisc]=fuser                      # fuser/pstree/killall for debugging
	[make]=make
	[git]=git
)

have() {
	case "$1" in
	/*) [ -e "$1" ] ;;
	*) command -v "$1" >/dev/null 2>&1 ;;
	esac
}

missing=()
for pkg in "${!want[@]}"; do
	if ! have "${want[$pkg]}" || ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	echo "install-deps: all packages present"
fi

# Go is not an apt package here: the project needs the toolchain named in go.mod.
GO="${GO:-}"
if [ -z "$GO" ]; then
	if command -v go >/dev/null 2>&1; then GO=$(command -v go)
	elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
	fi
fi
if [ -z "$GO" ]; then
	echo "install-deps: Go not found (looked in PATH and /usr/local/go/bin); install Go >= 1.26 to /usr/local/go" >&2
	exit 1
fi
echo "install-deps: $("$GO" version)"

# crun is not usable on this kind of machine; everything here uses runc.
for bin in runc podman /usr/bin/conmon /bin/busybox; do
	have "$bin" || { echo "install-deps: $bin still missing after install" >&2; exit 1; }
done
