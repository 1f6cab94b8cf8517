#!/usr/bin/env bash
# The whole protoql test suite: vet, staticcheck, every package's tests,
# the race detector on the packages with concurrency, and the nested
# modules (vet, staticcheck, tests).
# Long fuzzing is separate: see scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

# staticcheck is pinned in tools.mod (internal/tools/run says why); one
# binary checks this module and the nested ones. Generated files are
# skipped by staticcheck itself. `go tool staticcheck ./...` runs the same.
echo "== staticcheck"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -modfile=tools.mod -o "$bin/staticcheck" honnef.co/go/tools/cmd/staticcheck
"$bin/staticcheck" ./...

echo "== go test ./..."
go test -count=1 -timeout 20m ./...

echo "== go test -race (concurrent packages)"
go test -count=1 -timeout 30m -race ./kv/... ./runtime/... ./query/... ./server/... ./cli/... ./internal/kvcount/...

echo "== floor: go vet with the go directive's Go release"
bash scripts/floor.sh

for mod in kv/tikvkv bench; do
  if [ -f "$mod/go.mod" ]; then
    echo "== $mod (nested module)"
    (cd "$mod" && go vet ./... && "$bin/staticcheck" ./... && go test -count=1 ./...)
  fi
done
