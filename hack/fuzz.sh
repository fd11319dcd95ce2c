#!/usr/bin/env bash
# fuzz.sh [FUZZTIME] — run every fuzz target of the repository (func FuzzX in
# a _test.go file) for FUZZTIME each (default 30s), one after the other.
# Findings are written by Go to <pkg>/testdata/fuzz/<FuzzX>/ and fail the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
fuzztime=${1:-${FUZZTIME:-30s}}
n=0
while IFS=: read -r file name; do
	dir=$(dirname "$file")
	echo "fuzz: $dir $name for $fuzztime"
	corpus=$dir/testdata/fuzz/$name
	count() { { find "$corpus" -type f 2>/dev/null || true; } | wc -l; }
	before=$(count)
	if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir"; then
		# A finding is saved in the corpus and fails the run. Without one,
		# the engine itself gave up (a worker missing its deadline on a
		# loaded machine): run the target once more.
		if [ "$(count)" != "$before" ]; then
			echo "fuzz: $name found a failing input, saved in $corpus" >&2
			exit 1
		fi
		echo "fuzz: $name failed without a finding; once more" >&2
		"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir"
	fi
	n=$((n + 1))
done < <(grep -rHoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . |
	grep -v '^./integration/' | sed 's/:func /:/' | sort)
echo "fuzz: $n targets, $fuzztime each"
