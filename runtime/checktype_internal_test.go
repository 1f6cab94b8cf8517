package runtime

import (
	"fmt"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestCheckMessageTypeIsMessageAs checks that checkMessageType, which
// indexGet uses in place of messageAs[M], accepts and refuses the same
// messages as messageAs with the same error text, for concrete types and
// for interfaces a message does or does not implement.
func TestCheckMessageTypeIsMessageAs(t *testing.T) {
	msgs := []proto.Message{
		&descriptorpb.FieldOptions{},
		&descriptorpb.MessageOptions{},
		dynamicpb.NewMessage((&descriptorpb.FieldOptions{}).ProtoReflect().Descriptor()),
	}
	for _, m := range msgs {
		sameCheck[*descriptorpb.FieldOptions](t, m)
		sameCheck[*dynamicpb.Message](t, m)
		sameCheck[proto.Message](t, m)
		sameCheck[fmt.Stringer](t, m)
		sameCheck[interface{ Reset() }](t, m)
		sameCheck[interface{ NoSuchMethod() }](t, m)
	}
}

func sameCheck[T any](t *testing.T, m proto.Message) {
	t.Helper()
	_, want := messageAs[T](m)
	got := checkMessageType(m, reflect.TypeFor[T]())
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("checkMessageType(%T, %v) = %v; messageAs's error is %v", m, reflect.TypeFor[T](), got, want)
	}
}
