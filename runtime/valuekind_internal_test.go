package runtime

import (
	"bytes"
	"testing"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// valueKindsSrc is a table with a breakout field of every scalar kind, an
// enum and a message breakout, and scalar maps of several value kinds
// beside a message map: the fields whose setters answer typeFits and
// encode from schema.Field.ValueKind.
const valueKindsSrc = `syntax = "proto3";
package vk;
import "protoql/v1/options.proto";
enum E { E_ZERO = 0; E_ONE = 1; }
message S { int64 x = 1; }
message T {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  bool b = 2 [(protoql.v1.field).breakout = true];
  int32 i32 = 3 [(protoql.v1.field).breakout = true];
  sint32 s32 = 4 [(protoql.v1.field).breakout = true];
  sfixed32 sf32 = 5 [(protoql.v1.field).breakout = true];
  int64 i64 = 6 [(protoql.v1.field).breakout = true];
  sint64 s64 = 7 [(protoql.v1.field).breakout = true];
  sfixed64 sf64 = 8 [(protoql.v1.field).breakout = true];
  uint32 u32 = 9 [(protoql.v1.field).breakout = true];
  fixed32 f32 = 10 [(protoql.v1.field).breakout = true];
  uint64 u64 = 11 [(protoql.v1.field).breakout = true];
  fixed64 f64 = 12 [(protoql.v1.field).breakout = true];
  float fl = 13 [(protoql.v1.field).breakout = true];
  double db = 14 [(protoql.v1.field).breakout = true];
  string s = 15 [(protoql.v1.field).breakout = true];
  bytes by = 16 [(protoql.v1.field).breakout = true];
  E e = 17 [(protoql.v1.field).breakout = true];
  S m = 18 [(protoql.v1.field).breakout = true];
  map<string, int64> mi64 = 19;
  map<string, sint32> ms32 = 20;
  map<string, double> mdb = 21;
  map<string, string> ms = 22;
  map<string, S> mm = 23;
}`

// valueKindsRefs returns a Ref of each breakout field of valueKindsSrc and
// of an entry of each of its maps, with the table's descriptor.
func valueKindsRefs(t *testing.T) ([]Ref, protoreflect.MessageDescriptor) {
	t.Helper()
	files, _, err := prototest.Compile(map[string]string{"vk.proto": valueKindsSrc}, "vk.proto")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schema.Compile(files...)
	if err != nil {
		t.Fatal(err)
	}
	root := cat.Tables[0].Root
	var refs []Ref
	for _, f := range root.Fields {
		switch f.Storage {
		case schema.Breakout:
			refs = append(refs, Ref{kind: RefBreakout, field: f})
		case schema.Map:
			refs = append(refs, Ref{kind: RefEntry, field: f, node: f.Child})
		}
	}
	return refs, root.Desc
}

// TestTypeFitsValueKinds checks typeFits, which answers a breakout field or
// a scalar map entry from the field's ValueKind, against protobuf-go's own
// type check of T's values (fitsByValue) for every scalar kind, an enum and
// messages: a wrong yes would let a setter write a value of another type
// unchecked, a wrong no would cost a check. It fails with ValueKind giving
// another kind than the descriptor's, or with kindFits answering a Go type
// for the wrong kinds.
func TestTypeFitsValueKinds(t *testing.T) {
	refs, _ := valueKindsRefs(t)
	type namedInt int64
	checks := []struct {
		name     string
		fits, by func(*Ref) bool
	}{
		{"bool", typeFits[bool], byRef(fitsByValue[bool])},
		{"int32", typeFits[int32], byRef(fitsByValue[int32])},
		{"int64", typeFits[int64], byRef(fitsByValue[int64])},
		{"uint32", typeFits[uint32], byRef(fitsByValue[uint32])},
		{"uint64", typeFits[uint64], byRef(fitsByValue[uint64])},
		{"float32", typeFits[float32], byRef(fitsByValue[float32])},
		{"float64", typeFits[float64], byRef(fitsByValue[float64])},
		{"string", typeFits[string], byRef(fitsByValue[string])},
		{"[]byte", typeFits[[]byte], byRef(fitsByValue[[]byte])},
		{"namedInt", typeFits[namedInt], func(*Ref) bool { return false }}, // checked by value
		{"EnumNumber", typeFits[protoreflect.EnumNumber], byRef(fitsByValue[protoreflect.EnumNumber])},
	}
	for _, ref := range refs {
		for _, c := range checks {
			if got, want := c.fits(&ref), c.by(&ref); got != want {
				t.Errorf("typeFits[%s](%s, ValueKind %v): got %v, want %v", c.name, ref.field.Name(), ref.field.ValueKind(), got, want)
			}
		}
	}
}

// byRef answers for the field whose values the Ref's setter writes.
func byRef(by func(protoreflect.FieldDescriptor) bool) func(*Ref) bool {
	return func(r *Ref) bool { return by(valueField(*r)) }
}

// TestEncodeValueScalarKinds checks the value a breakout field's or a
// scalar map entry's Set writes (encodeValue, which encodes a scalar from
// the field's ValueKind without asking the descriptor) against
// proto.Marshal of a message holding that one field (for an entry, of the
// map entry message holding the value): the same bytes, for a non-zero
// value of every scalar kind and an enum. It fails with ValueKind giving
// another kind (a zigzag, fixed or varint encoding of the wrong width).
func TestEncodeValueScalarKinds(t *testing.T) {
	refs, md := valueKindsRefs(t)
	values := map[protoreflect.Kind]protoreflect.Value{
		protoreflect.BoolKind:     protoreflect.ValueOfBool(true),
		protoreflect.Int32Kind:    protoreflect.ValueOfInt32(-7),
		protoreflect.Sint32Kind:   protoreflect.ValueOfInt32(-7),
		protoreflect.Sfixed32Kind: protoreflect.ValueOfInt32(-7),
		protoreflect.Int64Kind:    protoreflect.ValueOfInt64(-1 << 40),
		protoreflect.Sint64Kind:   protoreflect.ValueOfInt64(-1 << 40),
		protoreflect.Sfixed64Kind: protoreflect.ValueOfInt64(-1 << 40),
		protoreflect.Uint32Kind:   protoreflect.ValueOfUint32(1 << 30),
		protoreflect.Fixed32Kind:  protoreflect.ValueOfUint32(1 << 30),
		protoreflect.Uint64Kind:   protoreflect.ValueOfUint64(1 << 50),
		protoreflect.Fixed64Kind:  protoreflect.ValueOfUint64(1 << 50),
		protoreflect.FloatKind:    protoreflect.ValueOfFloat32(1.5),
		protoreflect.DoubleKind:   protoreflect.ValueOfFloat64(-2.25),
		protoreflect.StringKind:   protoreflect.ValueOfString("héllo"),
		protoreflect.BytesKind:    protoreflect.ValueOfBytes([]byte{0, 1, 2}),
		protoreflect.EnumKind:     protoreflect.ValueOfEnum(1),
	}
	n := 0
	for _, ref := range refs {
		fd := valueField(ref)
		v, ok := values[fd.Kind()]
		if !ok {
			continue // a message: not a scalar
		}
		n++
		ref.key = []byte("k")
		_, got, err := encodeValue(nil, &ref, v, false)
		if err != nil {
			t.Errorf("%s: encodeValue: %v", ref.field.Name(), err)
			continue
		}
		m := dynamicpb.NewMessage(md)
		if ref.kind == RefEntry {
			m = dynamicpb.NewMessage(fd.ContainingMessage()) // the map entry: value field 2
		}
		m.Set(fd, v)
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s (%v): got %x, want %x", ref.field.Name(), fd.Kind(), got, want)
		}
	}
	if want := 20; n != want {
		t.Errorf("checked %d scalar fields, want %d", n, want)
	}
}
