#!/usr/bin/env bash
# Vets the module with the oldest Go release its go.mod allows (the go
# directive), so that neither protoql's code nor a dependency quietly needs
# a newer one than the floor promised to users. The Go command downloads
# that toolchain from the module proxy (golang.org/toolchain) the first time.
# Only the root module is checked: it is what users depend on. The nested
# modules (kv/tikvkv, bench) are programs of this repository and need the
# Go of their own go directive.
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(go mod edit -json | sed -n 's/^[[:space:]]*"Go": "\([^"]*\)".*/\1/p')
if [ -z "$v" ]; then
  echo "floor.sh: no go directive in go.mod" >&2
  exit 1
fi
echo "== go vet with go$v (the go directive)"
GOTOOLCHAIN="go$v" go version
GOTOOLCHAIN="go$v" go vet ./...
