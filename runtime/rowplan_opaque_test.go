package runtime_test

import (
	"context"
	"testing"

	"github.com/protoql/protoql/internal/testpb/opaquepb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestRowPlanOpaqueAPI scans a table whose rows are of a message generated
// with the opaque Go API (unexported struct fields, which reflect cannot
// set): the projected scan must decode them as proto.Unmarshal does, not
// panic.
func TestRowPlanOpaqueAPI(t *testing.T) {
	ctx := context.Background()
	db, err := runtime.Open(ctx, memkv.New(), runtime.WithSchema(opaquepb.File_protoql_test_opaque_v1_scalars_proto))
	if err != nil {
		t.Fatal(err)
	}
	tbl := table(t, db, "Scalars")
	want := opaquepb.Scalars_builder{Name: "a", N: -3, Tag: []byte("t"), S: "hello", I64: -7, Level: opaquepb.Level_LEVEL_HIGH}.Build()
	ref := must[runtime.Ref](t)(tbl.RowOf(want))
	if err := db.Put(ctx, ref, want); err != nil {
		t.Fatal(err)
	}
	n := 0
	for m, err := range db.Scan(ctx, tbl, runtime.KeyRange{}, runtime.ScanOptions{Fields: []string{"s", "i64", "level"}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !proto.Equal(m, want) {
			t.Errorf("scanned %v, want %v", m, want)
		}
	}
	if n != 1 {
		t.Errorf("scanned %d rows, want 1", n)
	}
}
