package cli

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

var errCloseFailed = errors.New("test: iterator Close failed")

// closeFailStore is a store whose iterators close and then, while fail
// is set, fail.
type closeFailStore struct {
	kv.Store
	fail *atomic.Bool
}

func (s closeFailStore) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := s.Store.NewIter(ctx, o)
	if err != nil {
		return nil, err
	}
	return failingClose{it, s.fail}, nil
}

type failingClose struct {
	kv.Iterator
	fail *atomic.Bool
}

func (it failingClose) Close() error {
	if err := it.Iterator.Close(); err != nil || !it.fail.Load() {
		return err
	}
	return errCloseFailed
}

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
	store := closeFailStore{mem, new(atomic.Bool)}
	store.fail.Store(true)
	if err := dumpRaw(ctx, store, io.Discard, "", true); !errors.Is(err, errCloseFailed) {
		t.Errorf("dumpRaw: %v, want %v", err, errCloseFailed)
	}
	store.fail.Store(false) // Open reads the store's index states
	fdb, err := runtime.Open(ctx, store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	store.fail.Store(true)
	if err := dump(ctx, io.Discard, fdb, nil, nil); !errors.Is(err, errCloseFailed) {
		t.Errorf("dump: %v, want %v", err, errCloseFailed)
	}
}
