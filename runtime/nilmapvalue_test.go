package runtime_test

import (
	"context"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestNilMapValueWritesEmpty: a nil message in a Go map of messages, which
// protobuf-go allows and its Marshal writes as an empty message, is
// written as an empty value: the same pairs, index entries included, as
// the empty message, on every write path (a string-keyed map read from the
// Go struct, a uint64-keyed one read through protoreflect, a row Put on
// the DB and in a transaction, an object Put); and it reads back as an
// empty message, as Unmarshal of Marshal's output does.
func TestNilMapValueWritesEmpty(t *testing.T) {
	ctx := context.Background()
	key1 := testpb.AccountKey{Org: "o", AccountId: 1}
	var final *testpb.Account
	write := func(v *testpb.Task) string {
		store := memkv.New()
		db := openDB(t, store, runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))
		acc := must[testpb.AccountTable](t)(testpb.NewAccountTable(db))
		// A first version whose index entries the next write replaces.
		check(t, acc.Put(ctx, &testpb.Account{Org: "o", AccountId: 1,
			Tasks:  map[string]*testpb.Task{"t": {Done: true, Slug: proto.String("s"), Priority: 3, Labels: []int64{4}}},
			Drawer: &testpb.Drawer{Items: map[uint64]*testpb.Task{1: {Done: true}}}}))
		a := &testpb.Account{Org: "o", AccountId: 1,
			Tasks:  map[string]*testpb.Task{"t": v, "u": {Done: true}},
			Drawer: &testpb.Drawer{Items: map[uint64]*testpb.Task{1: v, 2: {}}}}
		check(t, acc.Put(ctx, a))
		check(t, db.Update(ctx, func(tx *runtime.Tx) error {
			return acc.In(tx).Put(ctx, &testpb.Account{Org: "o", AccountId: 2, Tasks: map[string]*testpb.Task{"x": v}})
		}))
		d := &testpb.Drawer{Title: "d", Items: map[uint64]*testpb.Task{3: v}}
		check(t, acc.Row(key1).Drawer().Put(ctx, d))
		if v == nil {
			final = proto.Clone(a).(*testpb.Account)
			final.Drawer = d
			got := must[*testpb.Account](t)(acc.Get(ctx, key1))
			want := new(testpb.Account)
			check(t, proto.Unmarshal(must[[]byte](t)(proto.Marshal(final)), want))
			if !proto.Equal(got, want) || got.Tasks["t"] == nil || got.Drawer.Items[3] == nil {
				t.Errorf("read back %v, want %v (nil values as empty ones)", got, want)
			}
			for e, err := range acc.Row(key1).TasksByDone().Find(ctx, testpb.TaskByDoneValues{}, runtime.ScanOptions{}) {
				check(t, err)
				if e.Key != "t" {
					t.Errorf("by_done of an undone task found %q, want only t", e.Key)
				}
			}
		}
		return dumpData(t, store)
	}
	withNil, withEmpty := write(nil), write(&testpb.Task{})
	if withNil != withEmpty {
		t.Errorf("nil map values stored\n%s\nempty ones\n%s", withNil, withEmpty)
	}
}
