package runtime_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
)

// TestCheckKeyUTF8 compares CheckKeyUTF8, which reads the column's UTF8
// (worked out when the schema was built), with CheckUTF8 of the column's
// field, which asks the descriptor, on every key column (rows' and
// maps') of the test schemas and of proto2 and editions schemas with
// string keys that need not be UTF-8: valid and invalid strings, and values
// of the other key kinds.
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
		laxFiles(t, "lax2.proto", `syntax = "proto2";
package lax2;
import "protoql/v1/options.proto";
message Lax2 {
  option (protoql.v1.table) = {id: 1, key: ["id", "n"]};
  optional string id = 1;
  optional int64 n = 2;
  map<string, string> tags = 3;
}`),
		laxFiles(t, "lax23.proto", `edition = "2023";
package lax23;
import "protoql/v1/options.proto";
message Lax23 {
  option (protoql.v1.table) = {id: 1, key: ["id", "strict"]};
  string id = 1 [features.utf8_validation = NONE];
  string strict = 2;
  map<string, Part> parts = 3;
}
message Part { map<bool, string> flags = 1; }`),
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

// laxFiles compiles one schema file held in src.
func laxFiles(t *testing.T, name, src string) []protoreflect.FileDescriptor {
	t.Helper()
	files, _, err := prototest.Compile(map[string]string{name: src}, name)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
