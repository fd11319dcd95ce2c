#!/usr/bin/env bash
# make-user.sh [USER] — an unprivileged user for rootless podman (default:
# shimtest), as the rootless integration tests need it. Idempotent; run as root.
#   - the account, with a home (rootless podman keeps its store there);
#   - 65536 subordinate uids and gids in /etc/subuid and /etc/subgid, taken
#     after every range already listed so they overlap no one's;
#   - its XDG_RUNTIME_DIR, /run/user/<uid>: mode 0700, owned by the user
#     (systemd-logind makes it at login; there is no login here).
# Prints "<uid> <gid> <home> <runtime dir>".
set -euo pipefail

user=${1:-shimtest}
count=65536

if [ "$(id -u)" -ne 0 ]; then
	echo "make-user: must run as root (it creates a user)" >&2
	exit 1
fi
for tool in useradd usermod newuidmap newgidmap flock; do
	command -v "$tool" >/dev/null || {
		echo "make-user: $tool not found; run hack/install-deps.sh (packages passwd, uidmap)" >&2
		exit 1
	}
done

# Test processes running at once would both see no user and both add it.
exec 9>/run/shim-make-user.lock
flock 9

if ! id -u "$user" >/dev/null 2>&1; then
	# --no-user-group would put it in "users"; its own group keeps files private.
	useradd --create-home --user-group --shell /bin/sh --comment "shim rootless tests" "$user"
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
home=$(getent passwd "$user" | cut -d: -f6)
if [ ! -d "$home" ]; then
	install -d -m 0755 -o "$uid" -g "$gid" "$home"
fi

# next_free FILE: the first id after every range in FILE (at least 100000,
# login.defs' usual SUB_UID_MIN).
next_free() {
	awk -F: 'BEGIN { n = 100000 } NF >= 3 && $2 + $3 > n { n = $2 + $3 } END { print n }' "$1"
}

# ensure_range FILE FLAG: give the user a range in FILE unless it has one.
# useradd already does this where login.defs allows, so usually nothing to do.
ensure_range() {
	local file=$1 flag=$2 start
	touch "$file"
	if awk -F: -v u="$user" -v id="$uid" '($1 == u || $1 == id) && $3 >= 65536 { found = 1 } END { exit !found }' "$file"; then
		return
	fi
	start=$(next_free "$file")
	usermod "$flag" "$start-$((start + count - 1))" "$user"
}
ensure_range /etc/subuid --add-subuids
ensure_range /etc/subgid --add-subgids

rundir=/run/user/$uid
install -d -m 0755 /run/user
install -d -m 0700 -o "$uid" -g "$gid" "$rundir"
# install -d leaves an existing directory's owner and mode alone.
chown "$uid:$gid" "$rundir"
chmod 0700 "$rundir"

echo "$uid $gid $home $rundir"
