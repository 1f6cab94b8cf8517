package runtime

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestCheckMessageUnknownNested checks that checkMessageUnknown finds
// malformed unknown fields in a message below the one it is given (a
// message field, a map of messages), whatever mayNest lets it skip, and
// passes well-formed ones.
func TestCheckMessageUnknownNested(t *testing.T) {
	malformed := protoreflect.RawFields{0x0a, 0x05} // field 1, bytes, 5 bytes promised, none there
	wellFormed := protoreflect.RawFields{0xf8, 0x06, 0x01}
	withUnknown := func(m protoreflect.ProtoMessage, u protoreflect.RawFields) protoreflect.ProtoMessage {
		m.ProtoReflect().SetUnknown(u)
		return m
	}
	for _, c := range []struct {
		name string
		m    protoreflect.ProtoMessage
		bad  bool
	}{
		{"own, malformed", withUnknown(&timestamppb.Timestamp{Seconds: 1}, malformed), true},
		{"own, well-formed", withUnknown(&timestamppb.Timestamp{Seconds: 1}, wellFormed), false},
		{"message field, malformed", &descriptorpb.DescriptorProto{Options: withUnknown(&descriptorpb.MessageOptions{}, malformed).(*descriptorpb.MessageOptions)}, true},
		{"message field, well-formed", &descriptorpb.DescriptorProto{Options: withUnknown(&descriptorpb.MessageOptions{}, wellFormed).(*descriptorpb.MessageOptions)}, false},
		{"list of messages, malformed", &descriptorpb.DescriptorProto{Field: []*descriptorpb.FieldDescriptorProto{withUnknown(&descriptorpb.FieldDescriptorProto{}, malformed).(*descriptorpb.FieldDescriptorProto)}}, true},
		{"map of messages, malformed", &structpb.Struct{Fields: map[string]*structpb.Value{"k": withUnknown(structpb.NewNullValue(), malformed).(*structpb.Value)}}, true},
		{"map of messages, well-formed", &structpb.Struct{Fields: map[string]*structpb.Value{"k": withUnknown(structpb.NewNullValue(), wellFormed).(*structpb.Value)}}, false},
	} {
		err := checkMessageUnknown(c.m.ProtoReflect())
		if (err != nil) != c.bad {
			t.Errorf("%s: checkMessageUnknown = %v, want an error: %v", c.name, err, c.bad)
		}
	}
	for _, c := range []struct {
		m    protoreflect.ProtoMessage
		nest bool
	}{
		{&timestamppb.Timestamp{}, false},
		{&descriptorpb.DescriptorProto{}, true},
		{&structpb.Struct{}, true},
		{&structpb.ListValue{}, true},
		{&descriptorpb.MessageOptions{}, true}, // extension ranges
	} {
		if got := mayNest(c.m.ProtoReflect().Descriptor()); got != c.nest {
			t.Errorf("mayNest(%s) = %v, want %v", c.m.ProtoReflect().Descriptor().FullName(), got, c.nest)
		}
	}
}
