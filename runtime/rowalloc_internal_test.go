package runtime

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestRowAllocGenericAfterPlanned decodes rows of a Reuse scan as a scan
// whose plan declines every row does: each row's planned message cleared
// (rowAlloc.planned), then the generic decode's message taken (generic)
// and set. generic must hand out the planned message, reset, every time:
// planned clears the protobuf-go state inside it, and a reflection of it
// kept from the row before once panicked at the second declined row.
func TestRowAllocGenericAfterPlanned(t *testing.T) {
	ra := &rowAlloc{reuse: true}
	mt := (&descriptorpb.FieldOptions{}).ProtoReflect().Type()
	typ := reflect.TypeFor[descriptorpb.FieldOptions]()
	for i := range 3 {
		ra.planned(typ)
		m := ra.generic(mt)
		if m.Interface() != ra.m {
			t.Fatalf("row %d: the generic decode's message is not the planned one", i)
		}
		if !proto.Equal(m.Interface(), &descriptorpb.FieldOptions{}) {
			t.Fatalf("row %d: the generic decode's message is not reset: %v", i, m.Interface())
		}
		m.Interface().(*descriptorpb.FieldOptions).Packed = proto.Bool(true)
	}
}
