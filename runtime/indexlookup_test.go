package runtime_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
)

// seekStore records the keys that each iterator a read opens is sought to.
type seekStore struct {
	kv.Store
	mu    sync.Mutex
	seeks [][][]byte // per iterator
}

func (s *seekStore) View(ctx context.Context, fn func(kv.Reader) error) error {
	return s.Store.View(ctx, func(r kv.Reader) error { return fn(seekReader{r, s}) })
}

func (s *seekStore) reset() {
	s.mu.Lock()
	s.seeks = nil
	s.mu.Unlock()
}

// backward returns the seeks recorded and how many of them went to a key
// below the one before on the same iterator.
func (s *seekStore) backward() (seeks, back int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ks := range s.seeks {
		seeks += len(ks)
		for i := 1; i < len(ks); i++ {
			if bytes.Compare(ks[i], ks[i-1]) < 0 {
				back++
			}
		}
	}
	return seeks, back
}

type seekReader struct {
	kv.Reader
	s *seekStore
}

func (r seekReader) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := r.Reader.NewIter(ctx, o)
	if err != nil {
		return nil, err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.s.seeks = append(r.s.seeks, nil)
	return &seekIter{Iterator: it, s: r.s, n: len(r.s.seeks) - 1}, nil
}

type seekIter struct {
	kv.Iterator
	s *seekStore
	n int
}

func (it *seekIter) SeekGE(k []byte) bool {
	it.s.mu.Lock()
	it.s.seeks[it.n] = append(it.s.seeks[it.n], slices.Clone(k))
	it.s.mu.Unlock()
	return it.Iterator.SeekGE(k)
}

// lookupAccounts puts n accounts of age 30 whose by_age order (name, then
// key) is far from their key order, each with two tasks (and a breakout
// priority); the accounts in big get a task of 300 KiB, more than a batch
// copies. It returns them in index order.
func lookupAccounts(t *testing.T, store kv.Store, n int, big ...int) (*runtime.DB, []*testpb.Account) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 99))
	db := querytest.OpenIndexed(t, store)
	accounts, err := testpb.NewAccountTable(db)
	check(t, err)
	var all []*testpb.Account
	for i := range n {
		a := &testpb.Account{Org: []string{"a", "b", "c"}[r.IntN(3)], AccountId: uint64(i + 1), Age: 30,
			Name: fmt.Sprintf("n%02d", r.IntN(40)),
			Tasks: map[string]*testpb.Task{
				"t1": {Text: fmt.Sprint("one ", i), Priority: uint32(r.IntN(3))},
				"t2": {Text: fmt.Sprint("two ", i)},
			}}
		if slices.Contains(big, i) {
			a.Tasks["t3"] = &testpb.Task{Text: strings.Repeat("x", 300<<10)}
		}
		check(t, accounts.Put(context.Background(), a))
		all = append(all, a)
	}
	slices.SortFunc(all, func(x, y *testpb.Account) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Org, y.Org), cmp.Compare(x.AccountId, y.AccountId))
	})
	return db, all
}

// sameResults requires the results to be the accounts want, in order,
// comparing what the query projects (name and the tasks' text, or all).
func sameResults(t *testing.T, what string, got []runtime.Result, want []*testpb.Account, whole bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i, r := range got {
		g, w := r.Msg.(*testpb.Account), want[i]
		if !whole {
			p := &testpb.Account{Org: w.Org, AccountId: w.AccountId, Name: w.Name, Tasks: map[string]*testpb.Task{}}
			for k, task := range w.Tasks {
				p.Tasks[k] = &testpb.Task{Text: task.Text}
			}
			w = p
		}
		if r.Partial || !proto.Equal(g, w) {
			t.Fatalf("%s: row %d is %s/%d %q (partial %v), want %s/%d %q", what, i, g.Org, g.AccountId, g.Name, r.Partial, w.Org, w.AccountId, w.Name)
		}
	}
}

// TestIndexQueryLookupsBatched reads 200 rows through an index whose order
// is not their key order, forward and in reverse, two of them larger than
// a batch copies: the rows come back in index order, and the store is
// sought in ascending key order but for a few seeks per batch (one seek
// per row in index order, as before, goes back about every other row).
func TestIndexQueryLookupsBatched(t *testing.T) {
	t.Parallel()
	store := &seekStore{Store: memkv.New()}
	const n = 200
	db, want := lookupAccounts(t, store, n, 5, 150)
	batches := (n + query.IndexLookupBatch - 1) / query.IndexLookupBatch
	rev := slices.Clone(want)
	slices.Reverse(rev)
	for _, c := range []struct {
		text string
		want []*testpb.Account
	}{
		{`Account.by_age[30] { name, tasks { text } }`, want},
		{`Account.by_age[30](reverse: true) { name, tasks { text } }`, rev},
	} {
		store.reset()
		got, err := querytest.Collect(t, db, query.MustCompile(db.Catalog(), c.text), nil)
		check(t, err)
		sameResults(t, c.text, got, c.want, false)
		seeks, back := store.backward()
		// Per batch: the first object's seek and one to put the live
		// iterator where the replay ended, both possibly below the last.
		if back > 2*batches {
			t.Errorf("%s: %d of %d seeks went back; batched lookups in key order go back at most twice per batch (%d batches)", c.text, back, seeks, batches)
		}
	}

	// A map-scoped index: 150 entries ordered by priority (descending),
	// then key.
	r := rand.New(rand.NewPCG(3, 3))
	owner := &testpb.Account{Org: "m", AccountId: 1, Tasks: map[string]*testpb.Task{}}
	for i := range 150 {
		owner.Tasks[fmt.Sprintf("k%03d", i)] = &testpb.Task{Text: fmt.Sprint(i), Priority: uint32(r.IntN(50)), Done: i%7 == 0}
	}
	accounts, err := testpb.NewAccountTable(db)
	check(t, err)
	check(t, accounts.Put(context.Background(), owner))
	var keys []string
	for k, task := range owner.Tasks {
		if !task.Done {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y string) int {
		return cmp.Or(cmp.Compare(owner.Tasks[y].Priority, owner.Tasks[x].Priority), cmp.Compare(x, y))
	})
	for _, first := range []int{0, 10, 64, 65} {
		text := `Account["m", 1] { tasks.by_done[false] { text } }`
		if first > 0 {
			text = fmt.Sprintf(`Account["m", 1] { tasks.by_done[false](first: %d) { text } }`, first)
		}
		store.reset()
		got, err := querytest.Collect(t, db, query.MustCompile(db.Catalog(), text), nil)
		check(t, err)
		wantKeys := keys
		if first > 0 {
			wantKeys = keys[:first]
		}
		if len(got) != 1 {
			t.Fatalf("%s: %d rows", text, len(got))
		}
		tasks := got[0].Msg.(*testpb.Account).Tasks
		if len(tasks) != len(wantKeys) {
			t.Fatalf("%s: %d entries, want %d", text, len(tasks), len(wantKeys))
		}
		for _, k := range wantKeys {
			if tasks[k].GetText() != owner.Tasks[k].Text {
				t.Fatalf("%s: entry %s is %v, want text %q", text, k, tasks[k], owner.Tasks[k].Text)
			}
		}
		seeks, back := store.backward()
		if back > 2*((len(wantKeys)+63)/64)+1 {
			t.Errorf("%s: %d of %d seeks went back; batched lookups in key order go back at most twice per batch", text, back, seeks)
		}
	}

	// After the map's entries, the row goes on being read with the walker
	// the scan borrowed, from where the entry last in index order (also
	// last in key order) ended: the first key of the drawer.
	second := &testpb.Account{Org: "m", AccountId: 2, Bio: "bio", Score: 7, Tasks: map[string]*testpb.Task{},
		Drawer: &testpb.Drawer{Title: "d", Items: map[uint64]*testpb.Task{1: {Text: "i1"}, 2: {Text: "i2", Done: true}, 3: {Text: "i3"}}}}
	for i := range 10 {
		second.Tasks[fmt.Sprintf("k%03d", i)] = &testpb.Task{Text: fmt.Sprint(i), Priority: uint32(10 - i)}
	}
	check(t, accounts.Put(context.Background(), second))
	for _, text := range []string{
		`Account["m", 2] { tasks.by_done[false], drawer, bio, score }`,
		`Account["m", 2] { tasks.by_done[false] { text }, drawer { title, items.by_done[false] { text } }, bio, score }`,
	} {
		got, err := querytest.Collect(t, db, query.MustCompile(db.Catalog(), text), nil)
		check(t, err)
		want := proto.Clone(second).(*testpb.Account)
		if strings.Contains(text, "items.by_done") {
			for _, task := range want.Tasks {
				task.Priority = 0
			}
			delete(want.Drawer.Items, 2)
			for _, task := range want.Drawer.Items {
				task.Done = false
			}
		}
		if len(got) != 1 || !proto.Equal(got[0].Msg, want) {
			t.Fatalf("%s: %v, want %v", text, got, want)
		}
	}
}

// TestIndexQueryPagesAcrossBatches pages a query through an index with
// first: over page sizes around a batch's, forward and in reverse, and
// requires the pages to add up to the rows in index order.
func TestIndexQueryPagesAcrossBatches(t *testing.T) {
	t.Parallel()
	db, want := lookupAccounts(t, memkv.New(), 200)
	rev := slices.Clone(want)
	slices.Reverse(rev)
	for _, reverse := range []bool{false, true} {
		q := query.MustCompile(db.Catalog(), fmt.Sprintf(`Account.by_age[30](first: $n, after: $after, reverse: %v) { name, tasks { text } }`, reverse))
		for _, size := range []int{1, 50, 63, 64, 65, 130} {
			var all []runtime.Result
			after := ""
			for calls := 0; ; calls++ {
				if calls > 300 {
					t.Fatalf("pages of %d: no end", size)
				}
				page, err := querytest.Collect(t, db, q, map[string]any{"n": size, "after": after})
				check(t, err)
				if len(page) == 0 {
					break
				}
				if len(page) > size {
					t.Fatalf("pages of %d: a page of %d", size, len(page))
				}
				all = append(all, page...)
				after = page[len(page)-1].Cursor()
			}
			w := want
			if reverse {
				w = rev
			}
			sameResults(t, fmt.Sprintf("pages of %d, reverse %v", size, reverse), all, w, false)
		}
	}
}

// rowCost is what reading one row through an index lands on, from the
// store's pairs: its index entry, every pair of the row, and the first
// pair after the row (where its read ends), less the row's first pair when
// the row before in index order ended on it.
type rowCost struct {
	keys, bytes int
	// first: what the entry and the row's first pair add (the least that
	// returns part of the row).
	firstKeys, firstBytes int
}

// indexRowCosts computes the costs of the rows want (in index order) read
// through index by_age of the Account table, from the raw store.
func indexRowCosts(t *testing.T, db *runtime.DB, raw kv.Store, want []*testpb.Account) []rowCost {
	t.Helper()
	ctx := context.Background()
	tbl, err := db.Catalog().Lookup("protoql.test.v1.Account")
	check(t, err)
	tlo := tbl.AppendPrefix(nil)
	ixLo := tbl.Index("by_age").AppendPrefix(nil, nil)
	var entries [][2]int // key and value sizes, in index order
	var costs []rowCost
	check(t, raw.View(ctx, func(r kv.Reader) error {
		it, err := r.NewIter(ctx, kv.IterOptions{LowerBound: ixLo, UpperBound: tuple.PrefixEnd(ixLo)})
		check(t, err)
		for ok := it.First(); ok; ok = it.Next() {
			entries = append(entries, [2]int{len(it.Key()), len(it.Value())})
		}
		check(t, it.Close())
		if len(entries) != len(want) {
			t.Fatalf("%d entries in by_age, want %d", len(entries), len(want))
		}
		it, err = r.NewIter(ctx, kv.IterOptions{LowerBound: tlo, UpperBound: tuple.PrefixEnd(tlo)})
		check(t, err)
		defer it.Close()
		var prevEnd []byte // the key the row before ended on
		for i, a := range want {
			rowKey := querytest.RowKey(t, db, a)
			c := rowCost{keys: 1, bytes: entries[i][0] + entries[i][1]}
			c.firstKeys, c.firstBytes = c.keys, c.bytes
			ok := it.SeekGE(rowKey)
			if !ok || !bytes.HasPrefix(it.Key(), rowKey) {
				t.Fatalf("row %d has no pairs", i)
			}
			if !bytes.Equal(it.Key(), prevEnd) {
				c.firstKeys++
				c.firstBytes += len(it.Key()) + len(it.Value())
			}
			for first := true; ok && bytes.HasPrefix(it.Key(), rowKey); ok, first = it.Next(), false {
				if first && bytes.Equal(it.Key(), prevEnd) {
					continue // landed on by the row before
				}
				c.keys++
				c.bytes += len(it.Key()) + len(it.Value())
			}
			prevEnd = nil
			if ok {
				c.keys++
				c.bytes += len(it.Key()) + len(it.Value())
				prevEnd = slices.Clone(it.Key())
			}
			costs = append(costs, c)
		}
		return nil
	}))
	return costs
}

// TestIndexQueryLimitsPerRow runs a whole-row query through an index under
// key and byte limits placed at and around the ends of rows, in several
// batches, and requires the limit to cut where reading the rows one by
// one lands (indexRowCosts, from the store's pairs): index entries read
// ahead of their rows count only when their row is read. Then it pages
// the query to its end under a small limit, resuming inside cut rows.
func TestIndexQueryLimitsPerRow(t *testing.T) {
	t.Parallel()
	raw := memkv.New()
	db, want := lookupAccounts(t, raw, 200, 100)
	costs := indexRowCosts(t, db, raw, want)
	q := query.MustCompile(db.Catalog(), `Account.by_age[30](after: $after)`)
	for _, byBytes := range []bool{false, true} {
		cost := func(c rowCost) (int, int) { return c.keys, c.firstKeys }
		if byBytes {
			cost = func(c rowCost) (int, int) { return c.bytes, c.firstBytes }
		}
		sums := []int{0} // sums[r]: the cost of rows before r
		for _, c := range costs {
			all, _ := cost(c)
			sums = append(sums, sums[len(sums)-1]+all)
		}
		for _, row := range []int{2, 40, 63, 64, 65, 100, 101, 130, 199} {
			all, first := cost(costs[row])
			for _, max := range []int{sums[row], sums[row] + 1, sums[row] + first - 1, sums[row] + first, sums[row] + all - 1, sums[row] + all} {
				lim := query.Limits{MaxKeys: max}
				if byBytes {
					lim = query.Limits{MaxBytes: max}
				}
				complete := 0
				for complete < len(want) && sums[complete+1] <= max {
					complete++
				}
				partial := false
				if complete < len(want) {
					_, f := cost(costs[complete])
					partial = sums[complete]+f <= max
				}
				what := fmt.Sprintf("limit %+v (row %d)", lim, row)
				got, err := querytest.Collect(t, db, q, map[string]any{"after": ""}, runtime.WithLimits(lim))
				var le *runtime.LimitError
				if complete == len(want) {
					check(t, err)
				} else if !errors.As(err, &le) {
					t.Fatalf("%s: error %v, want a LimitError", what, err)
				}
				n := complete
				if partial {
					n++
				}
				if len(got) != n {
					t.Fatalf("%s: %d results, want %d complete rows then partial %v", what, len(got), complete, partial)
				}
				sameResults(t, what, got[:complete], want[:complete], true)
				if partial {
					g := got[complete]
					if !g.Partial || !bytes.Equal(querytest.RowKey(t, db, g.Msg), querytest.RowKey(t, db, want[complete])) {
						t.Fatalf("%s: result %d is %v (partial %v), want part of row %s/%d", what, complete, g.Msg, g.Partial, want[complete].Org, want[complete].AccountId)
					}
				}
			}
		}
	}
	// Paged to the end under a limit that cuts rows.
	for _, lim := range []query.Limits{{MaxKeys: 20}, {MaxBytes: 3000}} {
		var got []runtime.Result
		after := ""
		for calls := 0; ; calls++ {
			if calls > 2000 {
				t.Fatalf("limit %+v: no end", lim)
			}
			page, err := querytest.Collect(t, db, q, map[string]any{"after": after}, runtime.WithLimits(lim))
			got = querytest.JoinPartial(t, db, got, page)
			if err == nil {
				break
			}
			var le *runtime.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("limit %+v: %v", lim, err)
			}
			after = le.Cursor
		}
		sameResults(t, fmt.Sprintf("paged under %+v", lim), got, want, true)
	}
}
