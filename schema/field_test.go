package schema_test

import (
	"bytes"
	"testing"

	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestNodeField checks Node.Field and Node.Child against the descriptor
// for field numbers below, at and above the small numbers Node keeps in a
// slice (1 to 63), and for numbers no field has, negative ones included.
func TestNodeField(t *testing.T) {
	c, err := compile(t, header+`message A { option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  int64 b = 2;
  map<string, S> sessions = 5;
  int64 c = 63;
  int64 d = 64;
  S e = 100 [(protoql.v1.field).breakout = true];
  int64 f = 536870911;
}
message S { int64 x = 1; }`)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Tables[0].Root
	fields := n.Desc.Fields()
	for _, num := range []protoreflect.FieldNumber{-1, 0, 1, 2, 3, 5, 6, 62, 63, 64, 65, 99, 100, 101, 536870911, 1 << 30} {
		got := n.Field(num)
		want := fields.ByNumber(num)
		switch {
		case want == nil && got != nil:
			t.Errorf("Field(%d) = %s, want nil", num, got.Desc.FullName())
		case want != nil && (got == nil || got.Desc != want):
			t.Errorf("Field(%d) = %v, want %s", num, got, want.FullName())
		}
	}
	if f := n.Child(5, tuple.KindString); f == nil || f.Number() != 5 {
		t.Errorf("Child(5, string) = %v, want the sessions map", f)
	}
	if f := n.Child(100, tuple.KindUnit); f == nil || f.Number() != 100 {
		t.Errorf("Child(100, unit) = %v, want the breakout", f)
	}
	for _, num := range []uint32{2, 63, 1 << 31, 1<<32 - 1} {
		if f := n.Child(num, tuple.KindString); f != nil {
			t.Errorf("Child(%d, string) = %s, want nil", num, f.Desc.FullName())
		}
	}
}

// TestAppendElem checks the element each field appends under its parent's
// key, which the layout now encodes once when it is built: a unit element
// for breakout and object fields (field numbers of one and of several
// bytes), the map's tag for maps, nothing for inline fields; and that the
// prefix it is appended to is kept.
func TestAppendElem(t *testing.T) {
	c, err := compile(t, header+`message A { option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  int64 inline = 2;
  int64 seen = 3 [(protoql.v1.field).breakout = true];
  S obj = 4 [(protoql.v1.field).breakout = false];
  map<string, S> sessions = 5;
  map<int64, int64> counts = 6 [(protoql.v1.field).descending = true];
  int64 far = 5000 [(protoql.v1.field).breakout = true];
}
message S { int64 x = 1; int64 y = 2; }`)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Tables[0].Root
	prefix := []byte{0xfe, 0x01}
	seen := map[schema.Storage]bool{}
	for _, num := range []protoreflect.FieldNumber{2, 3, 4, 5, 6, 5000} {
		f := n.Field(num)
		if f == nil {
			t.Fatalf("no field %d", num)
		}
		seen[f.Storage] = true
		var want []byte
		switch f.Storage {
		case schema.Breakout, schema.Object:
			want = tuple.AppendUnit(append([]byte(nil), prefix...), uint32(num))
		case schema.Map:
			want = f.Key.AppendTag(append([]byte(nil), prefix...))
		default:
			want = append([]byte(nil), prefix...)
		}
		for range 2 { // the encoded element is not changed by an append
			if got := f.AppendElem(append([]byte(nil), prefix...)); !bytes.Equal(got, want) {
				t.Errorf("field %d (%s): AppendElem = %x, want %x", num, f.Storage, got, want)
			}
		}
	}
	for _, st := range []schema.Storage{schema.Inline, schema.Breakout, schema.Object, schema.Map} {
		if !seen[st] {
			t.Errorf("no field stored as %s: the schema does not cover it", st)
		}
	}
}

// TestValueKind checks the kind each field reports for the one scalar
// value it keeps under a key of its own: a breakout field's kind, a scalar
// map's value kind, and 0 for a message breakout, a message map, an object
// and an inline field, whose values a setter cannot encode from a kind.
func TestValueKind(t *testing.T) {
	c, err := compile(t, header+`enum E { E_ZERO = 0; }
message A { option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  int64 inline = 2;
  sint32 b32 = 3 [(protoql.v1.field).breakout = true];
  string bs = 4 [(protoql.v1.field).breakout = true];
  E be = 5 [(protoql.v1.field).breakout = true];
  S bm = 6 [(protoql.v1.field).breakout = true];
  S obj = 7;
  map<string, fixed64> mf = 8;
  map<int64, string> ms = 9;
  map<string, S> mm = 10;
}
message S { int64 x = 1; S2 y = 2; }
message S2 { int64 z = 1; }`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[protoreflect.FieldNumber]protoreflect.Kind{
		1: 0, 2: 0, 3: protoreflect.Sint32Kind, 4: protoreflect.StringKind, 5: protoreflect.EnumKind,
		6: 0, 7: 0, 8: protoreflect.Fixed64Kind, 9: protoreflect.StringKind, 10: 0,
	}
	for num, k := range want {
		f := c.Tables[0].Root.Field(num)
		if f == nil {
			t.Fatalf("no field %d", num)
		}
		if got := f.ValueKind(); got != k {
			t.Errorf("field %s (%s): ValueKind %v, want %v", f.Name(), f.Storage, got, k)
		}
	}
}
