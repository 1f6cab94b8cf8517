#!/usr/bin/env bash
# Long fuzzing of every fuzz target of the main module: every decoder and
# parser that takes outside bytes (keys, values, queries, cursors, schemas,
# WAL tails, CLI input) and the encoders checked against a reference.
# Usage: scripts/fuzz.sh [DURATION]   (default 5m per target)
set -euo pipefail
cd "$(dirname "$0")/.."
d="${1:-5m}"
targets=()
# The nested modules (bench, kv/tikvkv) have no fuzz targets; their
# directories are not packages of this module.
while IFS= read -r f; do
  pkg="./$(dirname "$f")"
  case "$pkg" in ./bench* | ./kv/tikvkv*) continue ;; esac
  for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/func //'); do
    targets+=("$pkg $name")
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort)
for t in "${targets[@]}"; do
  set -- $t
  echo "== fuzz $2 in $1 for $d"
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$d" -fuzzminimizetime 10s
done
