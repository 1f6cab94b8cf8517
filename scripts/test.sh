#!/usr/bin/env bash
# The whole protoql test suite: vet, every package's tests, the race
# detector on the packages with concurrency, and the nested modules.
# Long fuzzing is separate: see scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== go test ./..."
go test -count=1 -timeout 20m ./...

echo "== go test -race (concurrent packages)"
go test -count=1 -timeout 30m -race ./kv/... ./runtime/... ./server/... ./cli/... ./internal/kvcount/...

echo "== floor: go vet with the go directive's Go release"
bash scripts/floor.sh

for mod in kv/tikvkv bench; do
  if [ -f "$mod/go.mod" ]; then
    echo "== $mod (nested module)"
    (cd "$mod" && go vet ./... && go test -count=1 ./...)
  fi
done
