#!/usr/bin/env bash
# Long fuzzing of every decoder and parser that takes outside bytes.
# Usage: scripts/fuzz.sh [DURATION]   (default 5m per target)
set -euo pipefail
cd "$(dirname "$0")/.."
d="${1:-5m}"
targets=(
  "./tuple FuzzDecode"
  "./tuple FuzzRoundTrip"
  "./tuple FuzzOrder"
  "./runtime FuzzReassemble"
  "./runtime FuzzQuery"
)
for pkg in ./query ./schema; do
  if [ -d "$pkg" ]; then
    for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$pkg"/*_test.go 2>/dev/null | sed 's/func //'); do
      targets+=("$pkg $f")
    done
  fi
done
for t in "${targets[@]}"; do
  set -- $t
  echo "== fuzz $2 in $1 for $d"
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$d" -fuzzminimizetime 10s
done
