package protoqlv1

import _ "embed"

// OptionsProto is the source of protoql/v1/options.proto, for tools and
// tests that compile .proto files importing it without a file system.
//
//go:embed options.proto
var OptionsProto string
