package schema_test

import (
	"testing"

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
