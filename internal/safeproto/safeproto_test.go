package safeproto_test

import (
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/safeproto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// badStruct is a google.protobuf.Struct whose fields map (field 1,
// map<string, Value>) holds an entry with a string key followed by a key
// field of the wrong wire type: protobuf-go's reflective decoder panics on
// it.
func badStruct() []byte {
	entry := protowire.AppendTag(nil, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "a")
	entry = protowire.AppendTag(entry, 1, protowire.Fixed32Type)
	entry = protowire.AppendFixed32(entry, 0)
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(b, entry)
}

func TestUnmarshalTurnsPanicIntoError(t *testing.T) {
	md := (&structpb.Struct{}).ProtoReflect().Descriptor()
	for name, m := range map[string]proto.Message{
		"dynamic":   dynamicpb.NewMessage(md),
		"generated": &structpb.Struct{},
	} {
		t.Run(name, func(t *testing.T) {
			err := safeproto.Unmarshal(proto.UnmarshalOptions{}, badStruct(), m)
			if name == "dynamic" && !errors.Is(err, safeproto.ErrPanic) {
				t.Fatalf("got %v, want ErrPanic", err)
			}
		})
	}
}

func TestUnmarshalPassesErrorsAndValues(t *testing.T) {
	err := safeproto.Unmarshal(proto.UnmarshalOptions{}, []byte{0x0a, 0x05}, &structpb.Struct{})
	if err == nil || errors.Is(err, safeproto.ErrPanic) {
		t.Fatalf("truncated input: got %v, want protobuf's own error", err)
	}
	want, _ := structpb.NewStruct(map[string]any{"a": 1.5})
	b, _ := proto.Marshal(want)
	got := &structpb.Struct{}
	if err := safeproto.Unmarshal(proto.UnmarshalOptions{}, b, got); err != nil || !proto.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}
