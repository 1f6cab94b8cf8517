package runtime_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/internal/edgepb"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
)

// TestCheckKeyUTF8 compares CheckKeyUTF8, which reads the column's UTF8
// (worked out when the schema was built), with CheckUTF8 of the column's
// field, which asks the descriptor, on every key column (rows' and
// maps') of the test schemas, proto2, proto3 and editions: valid and
// invalid strings, and values of the other key kinds.
func TestCheckKeyUTF8(t *testing.T) {
	var cols []*schema.Column
	seen := map[*schema.Node]bool{}
	var walk func(n *schema.Node)
	walk = func(n *schema.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		for _, f := range n.Fields {
			if f.Key != nil {
				cols = append(cols, f.Key)
			}
			walk(f.Child)
		}
	}
	for _, files := range [][]protoreflect.FileDescriptor{ // catalogs of unique table ids
		{testpb.File_protoql_test_v1_social_proto, testpb.File_protoql_test_v1_indexed_proto},
		{testpb.File_protoql_test_v1_nested_proto}, {testpb.File_protoql_test_v1_places_proto},
		{testpb.File_protoql_test_v1_scalars_proto},
		{edgepb.File_protoql_test_edge_v1_legacy_proto, edgepb.File_protoql_test_edge_v1_doc_proto},
	} {
		cat, err := schema.Compile(files...)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range cat.Tables {
			cols = append(cols, tb.Key...)
			walk(tb.Root)
		}
	}
	values := []protoreflect.Value{
		protoreflect.ValueOfString("alice"), protoreflect.ValueOfString(""), protoreflect.ValueOfString("\xff"),
		protoreflect.ValueOfString("ok\xc3"), protoreflect.ValueOfString("é"),
		protoreflect.ValueOfInt64(7), protoreflect.ValueOfBool(true), protoreflect.ValueOfBytes([]byte{0xff}),
	}
	strict, lax := 0, 0
	for _, col := range cols {
		for _, v := range values {
			if _, ok := v.Interface().(string); ok != (col.Field.Kind() == protoreflect.StringKind) {
				continue // a key is of its column's type (Column.Check)
			}
			want, got := runtime.CheckUTF8(col.Field, v), runtime.CheckKeyUTF8(col, v)
			if (want == nil) != (got == nil) || (want != nil && want.Error() != got.Error()) {
				t.Errorf("column %s, value %v: checkKeyUTF8 = %v, checkUTF8 = %v", col.Field.FullName(), v, got, want)
			}
		}
		switch {
		case col.Field.Kind() != protoreflect.StringKind:
		case runtime.CheckUTF8(col.Field, protoreflect.ValueOfString("\xff")) != nil:
			strict++
		default:
			lax++
		}
	}
	if strict == 0 || lax == 0 {
		t.Fatalf("%d string key columns require UTF-8 and %d do not: the test needs both", strict, lax)
	}
	t.Logf("%d key columns, %d strict strings, %d lax", len(cols), strict, lax)
}
