// Command staticcheck runs the staticcheck pinned in tools.mod: `go tool
// staticcheck ./...` checks the module as scripts/test.sh does (see
// package run for why it is a wrapper).
package main

import "github.com/protoql/protoql/internal/tools/run"

func main() { run.Tool("staticcheck") }
