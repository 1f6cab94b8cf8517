package runtime_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// TestInOtherStore: a table or index bound with In to a transaction (or
// DB) over another store than its own DB's fails every call with
// ErrInvalid instead of reading and writing that store's keys, while DBs
// over one store (two namespaces) share a transaction.
func TestInOtherStore(t *testing.T) {
	ctx := context.Background()
	a := querytest.OpenIndexed(t, memkv.New())
	bStore := memkv.New()
	b := querytest.OpenIndexed(t, bStore)
	accA, err := testpb.NewAccountTable(a)
	check(t, err)
	accB, err := testpb.NewAccountTable(b)
	check(t, err)
	k := testpb.AccountKey{Org: "o", AccountId: 1}
	acc := &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("x@example.com")}
	check(t, accB.Put(ctx, acc)) // only b's store holds the row

	wantInvalid := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("%s with a's table bound to b's transaction: %v, want ErrInvalid", what, err)
		}
	}
	err = b.Update(ctx, func(tx *runtime.Tx) error {
		in := accA.In(tx)
		_, err := in.Get(ctx, k)
		wantInvalid("Get", err)
		wantInvalid("Put", in.Put(ctx, acc))
		wantInvalid("Delete", in.Delete(ctx, k))
		_, err = in.Row(k).LastSeenUs().Get(ctx)
		wantInvalid("LastSeenUs().Get", err)
		wantInvalid("Email().Set", in.Row(k).Email().Set(ctx, "y@example.com"))
		n := 0
		for _, err := range in.Row(k).Tasks().Scan(ctx, runtime.ScanOptions{}) {
			wantInvalid("Tasks().Scan", err)
			n++
		}
		if n != 1 {
			t.Errorf("Tasks().Scan yielded %d times, want its one error", n)
		}
		n = 0
		for _, err := range in.Scan(ctx, runtime.Range[testpb.AccountKey]{}, runtime.ScanOptions{}) {
			wantInvalid("Scan", err)
			n++
		}
		if n != 1 {
			t.Errorf("Scan yielded %d times, want its one error", n)
		}
		_, err = in.ByEmail().Get(ctx, "x@example.com")
		wantInvalid("ByEmail().Get", err)
		_, err = accA.ByEmail().In(tx).Get(ctx, "x@example.com")
		wantInvalid("ByEmail().In(tx).Get", err)
		ref, err := accA.Row(k).Ref()
		check(t, err)
		_, err = runtime.Object[*testpb.Account]{Handle: runtime.HandleOf(tx, ref)}.Get(ctx)
		wantInvalid("HandleOf(tx, ref).Get", err)
		return nil
	})
	check(t, err)
	_, err = accA.In(b).Get(ctx, k)
	wantInvalid("Get on b", err)
	if _, err := accB.Get(ctx, k); err != nil {
		t.Fatalf("b's row after the refused calls: %v", err)
	}

	// Two namespaces of b's store: one transaction of either DB reaches
	// the other's tables.
	c := querytest.OpenIndexed(t, bStore, runtime.WithNamespace("c"))
	accC, err := testpb.NewAccountTable(c)
	check(t, err)
	check(t, b.Update(ctx, func(tx *runtime.Tx) error {
		return accC.In(tx).Put(ctx, acc)
	}))
	got, err := accC.Get(ctx, k)
	check(t, err)
	if !proto.Equal(got, acc) {
		t.Errorf("namespace c's row written in b's transaction: %v, want %v", got, acc)
	}
}

// TestInOtherNamespaceQuery: a table bound with In to a DB, or to a
// transaction, of another namespace over its store runs its queries on
// its own namespace, as its Get does, not on the other's rows.
func TestInOtherNamespaceQuery(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	b := querytest.OpenIndexed(t, store)
	c := querytest.OpenIndexed(t, store, runtime.WithNamespace("c"))
	accB := must[testpb.AccountTable](t)(testpb.NewAccountTable(b))
	accC := must[testpb.AccountTable](t)(testpb.NewAccountTable(c))
	k := testpb.AccountKey{Org: "o", AccountId: 1}
	check(t, accB.Put(ctx, &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("b@x")}))
	check(t, accC.Put(ctx, &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("c@x")}))
	q, err := accC.Compile(`Account { email }`)
	check(t, err)
	read := func(what string, in testpb.AccountTable) {
		t.Helper()
		a, err := in.Get(ctx, k)
		check(t, err)
		var got []string
		for r, err := range in.Query(ctx, q, nil) {
			check(t, err)
			got = append(got, r.Msg.GetEmail())
		}
		if a.GetEmail() != "c@x" || len(got) != 1 || got[0] != "c@x" {
			t.Errorf("%s: Get %q, Query %q, want namespace c's row c@x for both", what, a.GetEmail(), got)
		}
	}
	read("c's table bound to b", accC.In(b))
	check(t, b.View(ctx, func(tx *runtime.Tx) error {
		read("c's table bound to b's View", accC.In(tx))
		return nil
	}))
	check(t, b.Update(ctx, func(tx *runtime.Tx) error {
		read("c's table bound to b's Update", accC.In(tx))
		return nil
	}))
}
