// Package safeproto unmarshals bytes that come from outside the process (a
// stored value, a request) without letting protobuf-go panic.
//
// protobuf-go's reflective decoding — the path every dynamicpb message
// takes, and generated messages in some cases — panics on some malformed
// input instead of returning an error. The known case (protobuf-go
// v1.36.12, proto/decode.go unmarshalMap): a map entry whose key field
// appears once with its right wire type and then again with a wrong one
// leaves the key as the invalid Value, and converting it to a map key
// panics with "type mismatch: cannot convert nil to map key". A corrupt
// disk or a hostile client can produce such bytes, and the project's rule
// is that bad input yields an error naming the place, never a panic.
//
// Unmarshal therefore recovers a panic of the decode it runs and returns it
// as an error (ErrPanic) for the caller to wrap with the place (the key,
// the request field). Recovering is sound here: the panic happens inside
// the decode of a message that only the caller holds, and the caller
// discards that message on error. Re-implementing protobuf's validation
// instead would duplicate the decoder and go stale with it.
package safeproto

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// ErrPanic marks an error that protobuf-go raised as a panic while
// decoding malformed bytes.
var ErrPanic = errors.New("safeproto: protobuf decoding panicked on malformed input")

// Unmarshal is o.Unmarshal(b, m) with a panic of protobuf-go turned into an
// error wrapping ErrPanic. On error m holds an unspecified partial result.
// It is as safe for concurrent use as o.Unmarshal.
func Unmarshal(o proto.UnmarshalOptions, b []byte, m proto.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	return o.Unmarshal(b, m)
}
