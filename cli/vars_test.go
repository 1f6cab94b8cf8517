package cli

import (
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/query"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestTypeVarNegativeZero checks that --var x=-0 is 0 on unsigned keys as on
// signed ones.
func TestTypeVarNegativeZero(t *testing.T) {
	t.Parallel()
	fields := testpb.File_protoql_test_v1_social_proto.Messages().ByName("Series").Fields()
	for _, name := range []string{"shard", "offset"} { // uint32, sint64
		fd := fields.ByName(protoreflect.Name(name))
		for _, s := range []string{"-0", "0"} {
			got, err := typeVar(query.VarType{Field: fd}, s)
			if err != nil {
				t.Errorf("typeVar(%s, %q): %v", name, s, err)
				continue
			}
			if v := got.GetUintValue() + uint64(got.GetIntValue()); v != 0 || proto.Size(got) == 0 {
				t.Errorf("typeVar(%s, %q) = %v, want 0", name, s, got)
			}
		}
	}
	if _, err := typeVar(query.VarType{Field: fields.ByName("shard")}, "-1"); err == nil {
		t.Errorf("typeVar(shard, -1) succeeded, want an error")
	}
}
