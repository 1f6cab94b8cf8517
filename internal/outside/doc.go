// Package outside holds the test that follows docs/using-protoql.md as a
// new user would: a separate module in a temporary directory that adds
// protoql, exports its options.proto, generates code with buf (managed mode
// on and off) and runs the resulting gRPC service. It has no code of its
// own.
package outside
