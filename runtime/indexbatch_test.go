package runtime_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// batchAccounts puts n accounts whose by_age order (age descending, name,
// then key) is far from their key order, so that the rows of a batch of
// index entries are read in another order than they are returned.
func batchAccounts(t *testing.T, n int) (testpb.AccountTable, []*testpb.Account) {
	t.Helper()
	return batchAccountsIn(t, memkv.New(), n)
}

// batchAccountsIn is batchAccounts in store.
func batchAccountsIn(t *testing.T, store kv.Store, n int) (testpb.AccountTable, []*testpb.Account) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 17))
	db := querytest.OpenIndexed(t, store)
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
	landed := 0
	accounts, all := batchAccountsIn(t, countingStore{memkv.New(), &landed}, 150)
	sameOrder(t, "Scan", collectTyped(t, accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{})), all)
	for _, limit := range []int{1, 63, 64, 65, 100, 149} {
		got := collectTyped(t, accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{Limit: limit}))
		sameOrder(t, fmt.Sprintf("Scan(Limit: %d)", limit), got, all[:limit])
	}
	rev := slices.Clone(all)
	slices.Reverse(rev)
	sameOrder(t, "Scan(Reverse)", collectTyped(t, accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{Reverse: true})), rev)
	// Stopping inside a batch stops reading: breaking out after the 70th
	// row (in the second batch) reads no more than a scan limited to the
	// two batches' rows, and less than the whole scan. (The range-over-func
	// rules already make yielding after the break panic.)
	measure := func(scan func()) int {
		landed = 0
		scan()
		return landed
	}
	wholeReads := measure(func() { collectTyped(t, accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{})) })
	twoBatches := measure(func() { collectTyped(t, accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{Limit: 128})) })
	n := 0
	stopped := measure(func() {
		for _, err := range accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{}) {
			check(t, err)
			if n++; n == 70 {
				break
			}
		}
	})
	if n != 70 {
		t.Fatalf("the scan ended after %d rows, before the break at 70", n)
	}
	if stopped > twoBatches || stopped >= wholeReads {
		t.Errorf("a scan stopped after 70 rows landed on %d keys; one limited to 128 rows (two batches) on %d, the whole scan on %d", stopped, twoBatches, wholeReads)
	}
}

// pages reads a scan page by page (scan(after) returns a page; cursor the
// cursor of a page's last result) and returns every result in order.
func pages[T any](t *testing.T, scan func(after string) []T, cursor func(T) (string, error)) []T {
	t.Helper()
	var out []T
	after := ""
	for range 1000 {
		page := scan(after)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		var err error
		after, err = cursor(page[len(page)-1])
		check(t, err)
	}
	t.Fatal("paging did not end")
	return nil
}

// TestIndexScanAfter pages typed index scans with ScanOptions.After, in
// pages shorter than the runs of equal values, forward and in reverse,
// through a composite index, an index over a repeated field and a
// map-scoped index, and requires the pages to add up to the whole scan.
func TestIndexScanAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	accounts, all := batchAccounts(t, 150)
	byAge := accounts.ByAge()
	rev := slices.Clone(all)
	slices.Reverse(rev)
	for _, size := range []int{1, 7, 64, 70} {
		for _, reverse := range []bool{false, true} {
			got := pages(t, func(after string) []*testpb.Account {
				return collectTyped(t, byAge.Scan(ctx, nil, runtime.ScanOptions{Limit: size, After: after, Reverse: reverse}))
			}, byAge.Cursor)
			want := all
			if reverse {
				want = rev
			}
			sameOrder(t, fmt.Sprintf("ByAge().Scan pages of %d, reverse %v", size, reverse), got, want)
		}
	}
	// Find, paged: rows with the same values continue in key order.
	v := testpb.AccountByAgeValues{Age: all[0].Age, Name: all[0].Name}
	var want []*testpb.Account
	for _, a := range all {
		if a.Age == v.Age && a.Name == v.Name {
			want = append(want, a)
		}
	}
	got := pages(t, func(after string) []*testpb.Account {
		return collectTyped(t, byAge.Find(ctx, v, runtime.ScanOptions{Limit: 3, After: after}))
	}, byAge.Cursor)
	sameOrder(t, "ByAge().Find pages", got, want)

	// A repeated field: a row with several tags has several entries, so
	// its cursor names the value it was found by.
	r := rand.New(rand.NewPCG(5, 5))
	var tagged []*testpb.Account
	for _, a := range all {
		a = proto.Clone(a).(*testpb.Account)
		for range 1 + r.IntN(3) {
			a.Tags = append(a.Tags, []string{"red", "blue"}[r.IntN(2)])
		}
		check(t, accounts.Put(ctx, a))
		if slices.Contains(a.Tags, "red") {
			tagged = append(tagged, a)
		}
	}
	slices.SortFunc(tagged, func(x, y *testpb.Account) int {
		return cmp.Or(cmp.Compare(x.Org, y.Org), cmp.Compare(x.AccountId, y.AccountId))
	})
	byTag := accounts.ByTag()
	got = pages(t, func(after string) []*testpb.Account {
		return collectTyped(t, byTag.Find(ctx, "red", runtime.ScanOptions{Limit: 5, After: after}))
	}, func(a *testpb.Account) (string, error) { return byTag.CursorAt("red", a) })
	sameOrder(t, "ByTag().Find pages", got, tagged)
	for _, a := range tagged {
		if len(slices.Compact(slices.Sorted(slices.Values(a.Tags)))) > 1 {
			if _, err := byTag.Cursor(a); !errors.Is(err, runtime.ErrInvalid) {
				t.Errorf("ByTag().Cursor of a row with tags %v: %v, want ErrInvalid (several entries)", a.Tags, err)
			}
			break
		}
	}

	// A map-scoped index.
	owner := &testpb.Account{Org: "m", AccountId: 1, Tasks: map[string]*testpb.Task{}}
	for i := range 40 {
		owner.Tasks[fmt.Sprintf("k%02d", i)] = &testpb.Task{Text: fmt.Sprint(i), Done: r.IntN(2) == 0, Priority: uint32(r.IntN(2))}
	}
	check(t, accounts.Put(ctx, owner))
	byDone := accounts.Row(testpb.AccountKey{Org: "m", AccountId: 1}).TasksByDone()
	for _, reverse := range []bool{false, true} {
		whole := collectTyped(t, byDone.Scan(ctx, nil, runtime.ScanOptions{Reverse: reverse}))
		if len(whole) != 40 {
			t.Fatalf("TasksByDone().Scan: %d entries, want 40", len(whole))
		}
		paged := pages(t, func(after string) []runtime.Entry[string, *testpb.Task] {
			return collectTyped(t, byDone.Scan(ctx, nil, runtime.ScanOptions{Limit: 3, After: after, Reverse: reverse}))
		}, byDone.Cursor)
		if len(paged) != len(whole) {
			t.Fatalf("TasksByDone().Scan pages, reverse %v: %d entries, want %d", reverse, len(paged), len(whole))
		}
		for i := range whole {
			if paged[i].Key != whole[i].Key {
				t.Fatalf("TasksByDone().Scan pages, reverse %v: entry %d is %q, want %q", reverse, i, paged[i].Key, whole[i].Key)
			}
		}
	}

	// Cursors of another scan, or altered, are refused.
	rowCursor, err := accounts.Cursor(all[0])
	check(t, err)
	ixCursor, err := byAge.Cursor(all[0])
	check(t, err)
	tagCursor, err := byTag.CursorAt("red", tagged[0])
	check(t, err)
	for what, after := range map[string]string{
		"a row scan's cursor":    rowCursor,
		"an altered cursor":      ixCursor[:len(ixCursor)-2] + "AA",
		"another index's cursor": tagCursor,
		"a map index's cursor":   must[string](t)(byDone.Cursor(collectTyped(t, byDone.Scan(ctx, nil, runtime.ScanOptions{Limit: 1}))[0])),
	} {
		for _, err := range byAge.Scan(ctx, nil, runtime.ScanOptions{After: after}) {
			if !errors.Is(err, runtime.ErrInvalid) || !errors.Is(err, query.ErrCursor) {
				t.Errorf("ByAge().Scan after %s: %v, want ErrInvalid and ErrCursor", what, err)
			}
			break
		}
	}
	// The same map index under another object: its entries have the same
	// shape, but the cursor is not under this object (the bounds would
	// clamp it to the start or the end).
	other := &testpb.Account{Org: "m", AccountId: 2, Tasks: map[string]*testpb.Task{}}
	for i := range 10 {
		other.Tasks[fmt.Sprintf("j%02d", i)] = &testpb.Task{Text: fmt.Sprint(i), Done: i%2 == 0}
	}
	check(t, accounts.Put(ctx, other))
	byDone2 := accounts.Row(testpb.AccountKey{Org: "m", AccountId: 2}).TasksByDone()
	doneCursor := must[string](t)(byDone.Cursor(collectTyped(t, byDone.Scan(ctx, nil, runtime.ScanOptions{Limit: 1}))[0]))
	for _, reverse := range []bool{false, true} {
		var last error
		n := 0
		for _, err := range byDone2.Scan(ctx, nil, runtime.ScanOptions{After: doneCursor, Reverse: reverse}) {
			if err != nil {
				last = err
				break
			}
			n++
		}
		if !errors.Is(last, runtime.ErrInvalid) || !errors.Is(last, query.ErrCursor) {
			t.Errorf("another object's TasksByDone().Scan (reverse %v) after this one's cursor: %d entries, error %v; want ErrInvalid and ErrCursor", reverse, n, last)
		}
	}
	for _, err := range accounts.Scan(ctx, nil, runtime.ScanOptions{After: ixCursor}) {
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("a row scan after an index cursor: %v, want ErrInvalid", err)
		}
		break
	}
}
