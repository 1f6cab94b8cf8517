package cli

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// TestDumpReportsCloseError: dump, with a schema and without, fails when
// its iterator fails to close, rather than pass for complete.
func TestDumpReportsCloseError(t *testing.T) {
	ctx := context.Background()
	mem := memkv.New()
	db, err := runtime.Open(ctx, mem, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	u := &testpb.User{UserId: "u", Registered: 1}
	ref, err := db.Table("User")
	if err != nil {
		t.Fatal(err)
	}
	row, err := ref.RowOf(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, row, u); err != nil {
		t.Fatal(err)
	}
	store := kvtest.NewCloseFails(mem)
	store.Fail.Store(true)
	if err := dumpRaw(ctx, store, io.Discard, "", true); !errors.Is(err, kvtest.ErrCloseFailed) {
		t.Errorf("dumpRaw: %v, want %v", err, kvtest.ErrCloseFailed)
	}
	store.Fail.Store(false) // Open reads the store's index states
	fdb, err := runtime.Open(ctx, store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	store.Fail.Store(true)
	if err := dump(ctx, io.Discard, fdb, nil, nil); !errors.Is(err, kvtest.ErrCloseFailed) {
		t.Errorf("dump: %v, want %v", err, kvtest.ErrCloseFailed)
	}
}
