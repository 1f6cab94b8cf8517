package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// storedSchemaKey and formatKey are where Open keeps the schema and the
// layout format (the metadata prefix 0x00, no namespace).
var (
	storedSchemaKey = []byte("\x00schema")
	formatKey       = []byte("\x00format")
)

// storeWithSchema returns a store holding raw as its stored schema, under
// the current layout format.
func storeWithSchema(t testing.TB, raw []byte) kv.Store {
	t.Helper()
	var b kv.Batch
	check(t, b.Set(formatKey, fmt.Append(nil, runtime.FormatVersion)))
	check(t, b.Set(storedSchemaKey, raw))
	s := memkv.New()
	check(t, s.Apply(context.Background(), &b))
	return s
}

// FuzzStoredSchema feeds Open a stored schema of any bytes (the
// FileDescriptorSet a DB keeps under its metadata, which a damaged or
// foreign store may hold anything in): Open without a schema, and Open
// with the test schema (which checks compatibility against the stored
// one), must succeed or return an error, never panic. A stored schema
// Open accepts must survive its own round trip: the catalog's descriptor
// set, marshalled and stored again, opens to the same tables.
func FuzzStoredSchema(f *testing.F) {
	ctx := context.Background()
	for _, fd := range []protoreflect.FileDescriptor{testpb.File_protoql_test_v1_social_proto, testpb.File_protoql_test_v1_indexed_proto, apartpb.File_protoql_test_apart_v1_apart_proto} {
		s := memkv.New()
		db, err := runtime.Open(ctx, s, runtime.WithSchema(fd))
		if err != nil {
			f.Fatal(err)
		}
		raw, err := s.Get(ctx, storedSchemaKey)
		if err != nil {
			f.Fatalf("%s: the stored schema is not at %q: %v", fd.Path(), storedSchemaKey, err)
		}
		// The seed is a schema Open accepts, with every table.
		stored, err := runtime.Open(ctx, storeWithSchema(f, raw))
		if err != nil {
			f.Fatalf("%s: the stored schema does not open: %v", fd.Path(), err)
		}
		if n, m := len(stored.Catalog().Tables), len(db.Catalog().Tables); n != m || n == 0 {
			f.Fatalf("%s: the stored schema has %d tables, want %d", fd.Path(), n, m)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		db, err := runtime.Open(ctx, storeWithSchema(t, raw))
		if _, err2 := runtime.Open(ctx, storeWithSchema(t, raw), runtime.WithSchema(testpb.File_protoql_test_v1_social_proto)); err2 != nil && err2.Error() == "" {
			t.Fatalf("Open with a schema: an error without a message")
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("Open: an error without a message")
			}
			return
		}
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(db.Catalog().FileDescriptorSet())
		if err != nil {
			t.Fatalf("the accepted schema does not marshal: %v", err)
		}
		db2, err := runtime.Open(ctx, storeWithSchema(t, again))
		if err != nil {
			t.Fatalf("the accepted schema, stored again, does not open: %v", err)
		}
		if n, n2 := len(db.Catalog().Tables), len(db2.Catalog().Tables); n != n2 {
			t.Fatalf("the accepted schema has %d tables, stored again %d", n, n2)
		}
		for _, tbl := range db.Catalog().Tables {
			if _, err := db2.Table(string(tbl.Desc.FullName())); err != nil {
				t.Fatalf("table %s lost in the round trip: %v", tbl.Desc.FullName(), errors.Unwrap(err))
			}
		}
	})
}
