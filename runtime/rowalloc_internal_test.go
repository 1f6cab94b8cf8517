package runtime

import (
	"reflect"
	"testing"
	"unsafe"

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
	rp := &rowPlan{typ: reflect.TypeFor[descriptorpb.FieldOptions]()}
	for i := range 3 {
		ra.planned(rp)
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

// TestRowAllocPlannedByPlan checks that a Reuse scan's message is kept
// while its rows come from one plan and made anew for another plan:
// planned knows its message's type by the plan that made it, so a plan
// of another type must not be handed the first plan's message.
func TestRowAllocPlannedByPlan(t *testing.T) {
	ra := &rowAlloc{reuse: true}
	fo := &rowPlan{typ: reflect.TypeFor[descriptorpb.FieldOptions]()}
	first := ra.planned(fo)
	first.Interface().(*descriptorpb.FieldOptions).Packed = proto.Bool(true)
	again := ra.planned(fo)
	if again.UnsafePointer() != first.UnsafePointer() {
		t.Fatal("a second row of the same plan got a new message, want the plan's one message")
	}
	if got := again.Interface().(*descriptorpb.FieldOptions); got.Packed != nil {
		t.Fatalf("a second row of the same plan was not cleared: %v", got)
	}
	mo := &rowPlan{typ: reflect.TypeFor[descriptorpb.MessageOptions]()}
	other := ra.planned(mo)
	if other.Type() != reflect.PointerTo(mo.typ) {
		t.Fatalf("a row of another plan is a %v, want a %v", other.Type(), reflect.PointerTo(mo.typ))
	}
	if ra.m != other.Interface() || ra.at != other.UnsafePointer() {
		t.Fatal("a row of another plan left rowAlloc's message and address at the first plan's")
	}
}

// TestRowAllocNeverPastSlab: a row is always an element of the current
// slab, even when more rows were recorded taken than the slab holds (a
// taken without a row before it): the slab is then done and a new one
// starts, rather than the row's address lying past the slab's end (where
// the decode would overwrite the heap and crash the whole test binary).
func TestRowAllocNeverPastSlab(t *testing.T) {
	rp := &rowPlan{typ: reflect.TypeFor[descriptorpb.FieldOptions]()}
	rp.slabs = slabTypes(rp.typ)
	ra := &rowAlloc{}
	inSlab := func(p unsafe.Pointer) bool {
		off := uintptr(p) - uintptr(ra.slab)
		return uintptr(p) >= uintptr(ra.slab) && off < uintptr(ra.n)*ra.size && off%ra.size == 0
	}
	for i := range 40 {
		p := ra.row(rp)
		if !inSlab(p) {
			t.Fatalf("row %d: address %p outside the slab at %p (%d elements of %d bytes, next %d)", i, p, ra.slab, ra.n, ra.size, ra.next)
		}
		ra.taken()
		if i%3 == 0 {
			ra.taken() // taken twice: one element skipped, or the slab overrun
		}
	}
}
