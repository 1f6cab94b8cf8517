// Command protoc-gen-go-grpc runs the protoc-gen-go-grpc pinned in
// tools.mod, for buf.gen.yaml (see package run for why it is a wrapper).
package main

import "github.com/protoql/protoql/internal/tools/run"

func main() { run.Tool("protoc-gen-go-grpc") }
