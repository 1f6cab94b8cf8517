package runtime_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// batchAccounts puts n accounts whose by_age order (age descending, name,
// then key) is far from their key order, so that the rows of a batch of
// index entries are read in another order than they are returned.
func batchAccounts(t *testing.T, n int) (testpb.AccountTable, []*testpb.Account) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 17))
	db := openIndexedDB(t, memkv.New())
	accounts, err := testpb.NewAccountTable(db)
	check(t, err)
	var all []*testpb.Account
	for i := range n {
		a := &testpb.Account{Org: []string{"a", "b", "c"}[r.IntN(3)], AccountId: uint64(i + 1),
			Age: int32(r.IntN(3) * 10), Name: []string{"ann", "bob"}[r.IntN(2)],
			Tasks: map[string]*testpb.Task{"t": {Text: fmt.Sprint(i)}}}
		check(t, accounts.Put(context.Background(), a))
		all = append(all, a)
	}
	slices.SortStableFunc(all, func(x, y *testpb.Account) int {
		return cmp.Or(cmp.Compare(y.Age, x.Age), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Org, y.Org), cmp.Compare(x.AccountId, y.AccountId))
	})
	return accounts, all
}

// sameOrder requires got to be want, in order.
func sameOrder(t *testing.T, what string, got, want []*testpb.Account) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("%s: row %d is %s/%d, want %s/%d", what, i, got[i].Org, got[i].AccountId, want[i].Org, want[i].AccountId)
		}
	}
}

// TestIndexScanBatches scans through an index over more rows than a batch
// of lookups holds (64), whole, limited across a batch's end, and in
// reverse: the rows come back in index order, whatever order they were
// read in.
func TestIndexScanBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	accounts, all := batchAccounts(t, 150)
	sameOrder(t, "Scan", collectTyped(t, accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{})), all)
	for _, limit := range []int{1, 63, 64, 65, 100, 149} {
		got := collectTyped(t, accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{Limit: limit}))
		sameOrder(t, fmt.Sprintf("Scan(Limit: %d)", limit), got, all[:limit])
	}
	rev := slices.Clone(all)
	slices.Reverse(rev)
	sameOrder(t, "Scan(Reverse)", collectTyped(t, accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{Reverse: true})), rev)
	// Stopping inside a batch stops.
	n := 0
	for _, err := range accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{}) {
		check(t, err)
		if n++; n == 70 {
			break
		}
	}
}
