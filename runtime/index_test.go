package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

func openIndexed(t *testing.T) (*kvcount.Store, *runtime.DB, testpb.AccountTable) {
	t.Helper()
	cs := kvcount.New(memkv.New())
	db, err := runtime.Open(context.Background(), cs, runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := testpb.NewAccountTable(db)
	if err != nil {
		t.Fatal(err)
	}
	return cs, db, acc
}

// TestIndexBlindWrites checks that writes to fields no index names stay
// blind on a table with indexes, and that writes to indexed fields read.
func TestIndexBlindWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs, _, acc := openIndexed(t)
	k := testpb.AccountKey{Org: "o", AccountId: 1}
	if err := acc.Put(ctx, &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("e"), Tasks: map[string]*testpb.Task{"t": {Done: true}}}); err != nil {
		t.Fatal(err)
	}
	row := acc.Row(k)
	tests := []struct {
		name  string
		write func() error
		blind bool
	}{
		{"breakout not indexed", func() error { return row.Score().Set(ctx, 3) }, true},
		{"breakout not indexed, clear", func() error { return row.Score().Clear(ctx) }, true},
		{"scalar map under an indexed entry", func() error { return row.Tasks().Entry("t").Attrs().Set(ctx, "a", "b") }, true},
		{"object without indexed maps", func() error { return row.Tasks().Entry("t").Attrs().Delete(ctx, "a") }, true},
		{"indexed breakout", func() error { return row.LastSeenUs().Set(ctx, 3) }, false},
		{"indexed entry breakout", func() error { return row.Tasks().Entry("t").Priority().Set(ctx, 2) }, false},
		{"put of an indexed entry", func() error { return row.Tasks().Put(ctx, "u", &testpb.Task{}) }, false},
	}
	for _, tt := range tests {
		cs.Reset()
		if err := tt.write(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		c := cs.Counts()
		if got := c.Gets + c.Iters; (got == 0) != tt.blind {
			t.Errorf("%s: %d gets and %d iterators, want blind=%v", tt.name, c.Gets, c.Iters, tt.blind)
		}
	}
}

// TestUniqueViolation checks the error of a write that breaks a unique
// index: it names the index, the value and the key holding it, matches
// ErrUniqueViolation, and the write changes nothing.
func TestUniqueViolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db, acc := openIndexed(t)
	if err := acc.Put(ctx, &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("a@b.c")}); err != nil {
		t.Fatal(err)
	}
	second := &testpb.Account{Org: "o", AccountId: 2, Email: proto.String("a@b.c"), Name: "second"}
	err := acc.Put(ctx, second)
	if !errors.Is(err, runtime.ErrUniqueViolation) {
		t.Fatalf("Put of a second row with the email: %v, want ErrUniqueViolation", err)
	}
	for _, want := range []string{"Account.by_email", `email="a@b.c"`, `Account["o", 1]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := acc.Get(ctx, testpb.AccountKey{Org: "o", AccountId: 2}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("the refused row was written: Get = %v", err)
	}
	// Through an inline setter, a map-scoped index and a transaction.
	if err := acc.Row(testpb.AccountKey{Org: "o", AccountId: 3}).Email().Set(ctx, "a@b.c"); !errors.Is(err, runtime.ErrUniqueViolation) {
		t.Errorf("Email().Set: %v, want ErrUniqueViolation", err)
	}
	row := acc.Row(testpb.AccountKey{Org: "o", AccountId: 1})
	if err := row.Tasks().Put(ctx, "t1", &testpb.Task{Slug: proto.String("s")}); err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx *runtime.Tx) error {
		r := acc.In(tx).Row(testpb.AccountKey{Org: "o", AccountId: 1})
		if err := r.Tasks().Delete(ctx, "t1"); err != nil {
			return err
		}
		// t1 is gone in this transaction: its slug is free again.
		if err := r.Tasks().Put(ctx, "t2", &testpb.Task{Slug: proto.String("s")}); err != nil {
			return err
		}
		return r.Tasks().Put(ctx, "t3", &testpb.Task{Slug: proto.String("s")})
	})
	if !errors.Is(err, runtime.ErrUniqueViolation) || !strings.Contains(err.Error(), `Account.tasks.by_slug: (slug="s") is already held by Account["o", 1].tasks["t2"]`) {
		t.Errorf("transaction: %v, want the violation of by_slug by t3", err)
	}
	got, err := row.Tasks().Get(ctx, "t1")
	if err != nil || got.GetSlug() != "s" {
		t.Errorf("after the failed transaction t1 = %v, %v; want it unchanged", got, err)
	}
}

// TestIndexVerify checks that verify accepts index entries and reads of
// objects holding map-scoped index entries skip them.
func TestIndexVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db, acc := openIndexed(t)
	a := &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("e"), Tags: []string{"x"},
		Tasks:  map[string]*testpb.Task{"t": {Done: true, Slug: proto.String("s"), Labels: []int64{1, 2}}},
		Drawer: &testpb.Drawer{Items: map[uint64]*testpb.Task{4: {Done: true}}}}
	if err := acc.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := acc.Get(ctx, testpb.AccountKey{Org: "o", AccountId: 1})
	if err != nil || !proto.Equal(got, a) {
		t.Fatalf("Get = %v, %v; want %v", got, err, a)
	}
	rep, err := db.Verify(ctx, runtime.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ProblemCount != 0 {
		t.Errorf("verify found problems in a DB with index entries: %+v", rep.Problems)
	}
	// A table index entry with a bad value and a map-scoped one with a bad
	// element are reported.
	x := acc.Table().Schema().Index("by_email")
	bad := x.AppendPrefix(nil, nil)
	bad = append(bad, 0x34, 'e', 0, 0)
	b := kv.NewBatch()
	if err := b.Set(bad, []byte{0xff}); err != nil {
		t.Fatal(err)
	}
	rk := acc.Table().Schema().RowKeyOf(nil, a.ProtoReflect())
	tasks := acc.Table().Schema().Root.Field(9)
	bad2 := tasks.Index("by_slug").AppendPrefix(nil, rk)
	bad2 = append(bad2, 0x10)
	if err := b.Set(bad2, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Store().Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	rep, err = db.Verify(ctx, runtime.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ProblemCount != 2 {
		t.Errorf("verify found %d problems, want 2 (the bad index entries): %+v", rep.ProblemCount, rep.Problems)
	}
}
