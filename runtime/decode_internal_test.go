package runtime

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestUnmarshalEmpty decodes empty bytes into empty messages with
// decoder.unmarshal, which skips proto.Unmarshal for them when the type
// has no required field, and requires proto.Unmarshal's result: the same
// (empty) message, and its error for a type whose required fields are
// then missing (descriptorpb's NamePart), with and without Merge.
func TestUnmarshalEmpty(t *testing.T) {
	for _, merge := range []bool{true, false} {
		opts := decodeOptions{proto.UnmarshalOptions{Merge: merge}}
		for _, newMsg := range []func() proto.Message{
			func() proto.Message { return &descriptorpb.DescriptorProto{} },
			func() proto.Message {
				return dynamicpb.NewMessage((&descriptorpb.DescriptorProto{}).ProtoReflect().Descriptor())
			},
			func() proto.Message {
				return dynamicpb.NewMessage((&descriptorpb.UninterpretedOption_NamePart{}).ProtoReflect().Descriptor())
			},
			func() proto.Message { return &descriptorpb.UninterpretedOption_NamePart{} },
			func() proto.Message { return &descriptorpb.UninterpretedOption{} },
		} {
			for _, wire := range [][]byte{nil, {}} {
				got, want := newMsg(), newMsg()
				var d decoder
				gerr := d.unmarshal(opts, wire, got.ProtoReflect(), 0)
				werr := opts.Unmarshal(wire, want)
				what := fmt.Sprintf("%T merge %v wire %v", got, merge, wire)
				if (gerr == nil) != (werr == nil) {
					t.Fatalf("%s: error %v, proto.Unmarshal %v", what, gerr, werr)
				}
				if !proto.Equal(got, want) {
					t.Fatalf("%s: %v, proto.Unmarshal %v", what, got, want)
				}
			}
		}
	}
}
