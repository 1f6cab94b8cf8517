// Command buf runs the buf pinned in tools.mod: `go tool buf generate`
// regenerates the repository's code (see package run for why it is a
// wrapper).
package main

import "github.com/protoql/protoql/internal/tools/run"

func main() { run.Tool("buf") }
