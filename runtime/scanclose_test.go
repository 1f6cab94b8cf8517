package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
)

// TestScanReportsCloseError: a row or map scan whose iterator's Close
// fails ends with that error after its rows, on every loop (scanOwn, the
// stepper's for projections and for whole rows, forward and reverse, the
// typed scan, ScanMap), also when Limit ended it; a consumer that stops
// the loop early gets no error (and no call after its break).
func TestScanReportsCloseError(t *testing.T) {
	ctx := context.Background()
	store := kvtest.NewCloseFails(memkv.New())
	db := openDB(t, store)
	users := table(t, db, "User")
	typed := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	first := putUsers(t, db, users, 4, 2)
	sessions := must[runtime.Ref](t)(first.FieldByName("sessions"))
	store.Fail.Store(true)
	type scanFn func(opts runtime.ScanOptions, stopAfter int) (int, error)
	rows := func(opts runtime.ScanOptions, stopAfter int) (int, error) {
		return countUntil(db.Scan(ctx, users, runtime.KeyRange{}, opts), stopAfter)
	}
	typedRows := func(opts runtime.ScanOptions, stopAfter int) (int, error) {
		return countUntil(typed.Scan(ctx, nil, opts), stopAfter)
	}
	entries := func(opts runtime.ScanOptions, stopAfter int) (int, error) {
		opts.Fields, opts.Reuse = nil, false
		return countUntil(db.ScanMap(ctx, sessions, runtime.KeyRange{}, opts), stopAfter)
	}
	for _, c := range []struct {
		name    string
		scan    scanFn
		opts    runtime.ScanOptions
		stepped bool
		want    int // units a full scan yields (Limit applied)
	}{
		{"own loop", rows, runtime.ScanOptions{Fields: []string{"registered"}}, false, 4},
		{"own loop, Reuse", rows, runtime.ScanOptions{Fields: []string{"registered"}, Reuse: true}, false, 4},
		{"own loop, Limit", rows, runtime.ScanOptions{Fields: []string{"registered"}, Limit: 2}, false, 2},
		{"stepped projection", rows, runtime.ScanOptions{Fields: []string{"registered"}}, true, 4},
		{"stepped projection, Limit", rows, runtime.ScanOptions{Fields: []string{"registered"}, Limit: 3}, true, 3},
		{"whole rows", rows, runtime.ScanOptions{}, false, 4},
		{"whole rows reverse", rows, runtime.ScanOptions{Reverse: true}, false, 4},
		{"projection reverse", rows, runtime.ScanOptions{Fields: []string{"registered"}, Reverse: true}, false, 4},
		{"typed own loop", typedRows, runtime.ScanOptions{Fields: []string{"registered"}}, false, 4},
		{"typed whole", typedRows, runtime.ScanOptions{}, false, 4},
		{"map", entries, runtime.ScanOptions{}, false, 2},
		{"map reverse", entries, runtime.ScanOptions{Reverse: true}, false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			runtime.SetSteppedRowScanForTest(c.stepped)
			defer runtime.SetSteppedRowScanForTest(false)
			n, err := c.scan(c.opts, 0)
			if n != c.want || !errors.Is(err, kvtest.ErrCloseFailed) {
				t.Errorf("full scan: %d units, error %v; want %d, then %v", n, err, c.want, kvtest.ErrCloseFailed)
			}
			// Stopped by its consumer: no error, and (the iterator
			// functions panic on a yield after a break) no call.
			if n, err := c.scan(c.opts, 1); n != 1 || err != nil {
				t.Errorf("scan stopped after a unit: %d units, error %v; want 1, none", n, err)
			}
		})
	}
}

// TestScanReportsApartCloseError: a whole-row scan of a table with fields
// stored apart reads them through iterators of their own (the apart
// walkers, opened at the first row); when only those fail to close, the
// scan ends with their error too, forward and in reverse.
func TestScanReportsApartCloseError(t *testing.T) {
	ctx := context.Background()
	store := kvtest.NewCloseFails(memkv.New())
	db, users := openApart(t, store)
	for _, id := range []string{"alice", "bob"} {
		u := apartAlice()
		u.UserId = id
		ref := must[runtime.Ref](t)(users.Row(str(id)))
		check(t, db.Put(ctx, ref, u))
	}
	store.FailFrom = lastRowKey(t, store)
	store.Fail.Store(true)
	for _, reverse := range []bool{false, true} {
		n := 0
		var last error
		for m, err := range db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{Reverse: reverse}) {
			if err != nil {
				last = err
				break
			}
			if len(m.(*apartpb.ApartUser).Sessions) != 1 {
				t.Fatalf("reverse %v: row %d without its apart sessions", reverse, n)
			}
			n++
		}
		if n != 2 || !errors.Is(last, kvtest.ErrCloseFailed) {
			t.Errorf("reverse %v: %d rows, error %v; want 2, then %v", reverse, n, last, kvtest.ErrCloseFailed)
		}
	}
}

// TestCountReportsCloseError: CountRows, CountEntries and Exists return
// their iterators' Close error, which a count or an existence answer
// would otherwise hide.
func TestCountReportsCloseError(t *testing.T) {
	ctx := context.Background()
	store := kvtest.NewCloseFails(memkv.New())
	db := openDB(t, store)
	users := table(t, db, "User")
	u := userWithSessions("u0", 2)
	ref := must[runtime.Ref](t)(users.RowOf(u))
	check(t, db.Put(ctx, ref, u))
	sessions := must[runtime.Ref](t)(ref.FieldByName("sessions"))
	store.Fail.Store(true)
	for _, c := range []struct {
		name string
		run  func(tx *runtime.Tx) error
	}{
		{"CountRows", func(tx *runtime.Tx) error { _, err := tx.CountRows(ctx, users, runtime.KeyRange{}); return err }},
		{"CountEntries", func(tx *runtime.Tx) error { _, err := tx.CountEntries(ctx, sessions, runtime.KeyRange{}); return err }},
		{"Exists", func(tx *runtime.Tx) error { _, err := tx.Exists(ctx, ref); return err }},
	} {
		err := db.View(ctx, func(tx *runtime.Tx) error { return c.run(tx) })
		if !errors.Is(err, kvtest.ErrCloseFailed) {
			t.Errorf("%s: error %v, want %v", c.name, err, kvtest.ErrCloseFailed)
		}
	}
}

// queryRows runs text on db and returns how many results it yielded
// before an error (or before stopAfter results, when above zero: the loop
// is then left, and nothing may be yielded after it) and that error.
func queryRows(t *testing.T, db *runtime.DB, text string, stopAfter int) (int, error) {
	t.Helper()
	q := must[*query.Query](t)(query.Compile(db.Catalog(), text))
	return countUntil(db.Query(context.Background(), q, nil), stopAfter)
}

// countUntil ranges over seq and returns how many values it yielded
// before an error (or before stopAfter values, when above zero: the loop
// is then left, and seq must yield nothing after it) and that error.
func countUntil[V any](seq iter.Seq2[V, error], stopAfter int) (n int, err error) {
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		if n++; n == stopAfter {
			break
		}
	}
	return n, nil
}

// TestQueryReportsCloseError: a query whose iterators fail to close ends
// with that error after its rows: range and point reads, pages, and the
// walkers that read fields stored apart; a caller that stops ranging gets
// nothing more.
func TestQueryReportsCloseError(t *testing.T) {
	ctx := context.Background()
	store := kvtest.NewCloseFails(memkv.New())
	db := openDB(t, store)
	users := table(t, db, "User")
	putUsers(t, db, users, 3, 2)
	store.Fail.Store(true)
	for _, c := range []struct {
		q    string
		want int
	}{
		{`User { registered }`, 3},
		{`User(reverse: true)`, 3},
		{`User(first: 2) { user_id }`, 2},
		{`User["u1"]`, 1},
		{`User["u1"] { sessions(first: 1) { device } }`, 1},
	} {
		if n, err := queryRows(t, db, c.q, 0); n != c.want || !errors.Is(err, kvtest.ErrCloseFailed) {
			t.Errorf("%s: %d results, error %v; want %d, then %v", c.q, n, err, c.want, kvtest.ErrCloseFailed)
		}
		if n, err := queryRows(t, db, c.q, 1); n != 1 || err != nil {
			t.Errorf("%s stopped after a result: %d results, error %v; want 1, none", c.q, n, err)
		}
	}

	// Only the walkers that read the fields stored apart fail.
	astore := kvtest.NewCloseFails(memkv.New())
	adb, ausers := openApart(t, astore)
	for _, id := range []string{"alice", "bob"} {
		u := apartAlice()
		u.UserId = id
		check(t, adb.Put(ctx, must[runtime.Ref](t)(ausers.Row(str(id))), u))
	}
	astore.FailFrom = lastRowKey(t, astore)
	astore.Fail.Store(true)
	for _, q := range []string{`ApartUser`, `ApartUser(reverse: true) { counters }`} {
		if n, err := queryRows(t, adb, q, 0); n != 2 || !errors.Is(err, kvtest.ErrCloseFailed) {
			t.Errorf("%s: %d results, error %v; want 2, then %v", q, n, err, kvtest.ErrCloseFailed)
		}
		if n, err := queryRows(t, adb, q, 1); n != 1 || err != nil {
			t.Errorf("%s stopped after a result: %d results, error %v; want 1, none", q, n, err)
		}
	}
}

// lastRowKey returns the last key of the apart table's rows in store: the
// apart spaces sit after the table's rows, so the iterators whose lower
// bound is above it read fields stored apart.
func lastRowKey(t *testing.T, store kv.Store) []byte {
	t.Helper()
	it := must[kv.Iterator](t)(store.NewIter(context.Background(), kv.IterOptions{LowerBound: []byte{0x01}}))
	var last []byte
	for ok := it.First(); ok; ok = it.Next() {
		if strings.HasPrefix(tuple.Format(it.Key()), "20 /") {
			last = bytes.Clone(it.Key())
		}
	}
	check(t, it.Close())
	if last == nil {
		t.Fatal("no row keys stored")
	}
	return last
}

// eachCloseFails runs op on store, whose iterators then close without
// failing, to count the iterators op opens; then once per iterator, with
// only that one failing to close: op must then end with kvtest.ErrCloseFailed
// after want results (op returns how many results it yielded before an
// error, or before stopAfter results when above zero, as countUntil; an
// op that returns one value, whose error says all, yields none). With
// every close failing, an op stopped after its first result gets nothing
// more.
func eachCloseFails(t *testing.T, store *kvtest.CloseFails, name string, want int, op func(stopAfter int) (int, error)) {
	t.Helper()
	store.Fail.Store(false)
	defer store.Fail.Store(false)
	store.FailOnly.Store(0)
	defer store.FailOnly.Store(0)
	op(0) // once before counting: what a first call sets up is not counted
	from := store.Opened()
	if n, err := op(0); n != want || err != nil {
		t.Fatalf("%s: %d results, error %v; want %d, none", name, n, err, want)
	}
	iters := store.Opened() - from
	if iters == 0 {
		t.Fatalf("%s opens no iterator", name)
	}
	store.Fail.Store(true)
	for i := range iters {
		store.FailOnly.Store(store.Opened() + i + 1)
		if n, err := op(0); n != want || !errors.Is(err, kvtest.ErrCloseFailed) {
			t.Errorf("%s, iterator %d of %d failing to close: %d results, error %v; want %d, then %v", name, i+1, iters, n, err, want, kvtest.ErrCloseFailed)
		}
	}
	store.FailOnly.Store(0)
	if want > 0 {
		if n, err := op(1); n != 1 || err != nil {
			t.Errorf("%s stopped after a result: %d results, error %v; want 1, none", name, n, err)
		}
	}
}

// one is op for a call that returns one value and its error.
func one[V any](_ V, err error) (int, error) { return 0, err }

// TestIndexReadsReportCloseError: typed index reads (Get and Find of
// table and map indexes, a Scan in reverse) and queries through indexes (at the root, batched,
// and of a map) end with the Close error of any iterator they open, after
// their results.
func TestIndexReadsReportCloseError(t *testing.T) {
	ctx := context.Background()
	store := kvtest.NewCloseFails(memkv.New())
	db := querytest.OpenIndexed(t, store)
	accounts := must[testpb.AccountTable](t)(testpb.NewAccountTable(db))
	for i := range 3 {
		a := &testpb.Account{Org: "o", AccountId: uint64(i + 1), Email: proto.String(fmt.Sprintf("a%d@x", i)), Age: 30, Name: fmt.Sprint("n", 2-i), Tags: []string{"red"},
			Tasks: map[string]*testpb.Task{"t1": {Text: "one", Slug: proto.String("s1")}, "t2": {Text: "two", Done: true, Slug: proto.String("s2")}}}
		check(t, accounts.Put(ctx, a))
	}
	row := accounts.Row(testpb.AccountKey{Org: "o", AccountId: 2})
	query := func(text string) func(int) (int, error) {
		return func(stopAfter int) (int, error) { return queryRows(t, db, text, stopAfter) }
	}
	for _, c := range []struct {
		name string
		want int
		op   func(stopAfter int) (int, error)
	}{
		{"ByEmail().Get", 0, func(int) (int, error) { return one(accounts.ByEmail().Get(ctx, "a1@x")) }},
		{"ByTag().Find", 3, func(stopAfter int) (int, error) {
			return countUntil(accounts.ByTag().Find(ctx, "red", runtime.ScanOptions{}), stopAfter)
		}},
		{"ByAge().Scan reverse", 3, func(stopAfter int) (int, error) {
			return countUntil(accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{Reverse: true}), stopAfter)
		}},
		{"TasksBySlug().Get", 0, func(int) (int, error) { return one(row.TasksBySlug().Get(ctx, "s2")) }},
		{"TasksByDone().Scan", 2, func(stopAfter int) (int, error) {
			return countUntil(row.TasksByDone().Scan(ctx, nil, runtime.ScanOptions{}), stopAfter)
		}},
		{"query by_age", 3, query(`Account.by_age[30] { name, tasks { text } }`)},
		{"query by_age reverse", 3, query(`Account.by_age[30](reverse: true)`)},
		{"query by_email", 1, query(`Account.by_email["a1@x"] { name }`)},
		{"query tasks.by_done", 1, query(`Account["o", 2] { tasks.by_done[false] { text } }`)},
		{"query tasks.by_slug", 1, query(`Account["o", 2] { tasks.by_slug["s2"] { text } }`)},
	} {
		eachCloseFails(t, store, c.name, c.want, c.op)
	}
}

// TestReadsReportCloseError: Get (of a row with fields stored apart too),
// and queries whose joins or reverse map pages read with iterators of
// their own, end with the Close error of any iterator they open, after
// their results.
func TestReadsReportCloseError(t *testing.T) {
	ctx := context.Background()
	store := kvtest.NewCloseFails(memkv.New())
	db := openDB(t, store)
	for i := range 2 {
		u := userWithSessions(fmt.Sprintf("u%d", i), 3)
		u.Threads = map[string]*testpb.ThreadRef{"t1": {LastReadUs: 1}, "t2": {LastReadUs: 2}}
		querytest.Put(t, db, u)
	}
	querytest.Put(t, db, &testpb.Thread{ThreadId: "t1", Title: "one"}, &testpb.Thread{ThreadId: "t2", Title: "two"})
	users := table(t, db, "User")
	ref := must[runtime.Ref](t)(users.Row(str("u1")))
	for _, c := range []struct {
		name string
		want int
		op   func(stopAfter int) (int, error)
	}{
		{"Get", 0, func(int) (int, error) { return 0, db.Get(ctx, ref, &testpb.User{}) }},
		{"query join", 2, func(stopAfter int) (int, error) {
			return queryRows(t, db, `User { threads { thread { title } } }`, stopAfter)
		}},
		{"query reverse page", 2, func(stopAfter int) (int, error) {
			return queryRows(t, db, `User { sessions(reverse: true, first: 2) { device } }`, stopAfter)
		}},
		{"point query reverse page", 1, func(stopAfter int) (int, error) {
			return queryRows(t, db, `User["u1"] { sessions(reverse: true) { device } }`, stopAfter)
		}},
	} {
		eachCloseFails(t, store, c.name, c.want, c.op)
	}

	astore := kvtest.NewCloseFails(memkv.New())
	adb, ausers := openApart(t, astore)
	aref := must[runtime.Ref](t)(ausers.Row(str("alice")))
	check(t, adb.Put(ctx, aref, apartAlice()))
	eachCloseFails(t, astore, "Get apart", 0, func(int) (int, error) { return 0, adb.Get(ctx, aref, &apartpb.ApartUser{}) })
}

// TestCopyReportsCloseError: Copy fails when an iterator over the target,
// which it reads to refuse one that holds data, fails to close.
func TestCopyReportsCloseError(t *testing.T) {
	ctx := context.Background()
	src := copySource(t, 3)
	dst := kvtest.NewCloseFails(memkv.New())
	copies := 0
	eachCloseFails(t, dst, "Copy", 0, func(int) (int, error) {
		copies++ // into a namespace of its own: an empty target
		to := fmt.Sprint("c", copies)
		_, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{To: &to})
		return 0, err
	})
}

// putUsers puts users u0 … u(n-1) of users, each with the given number of
// sessions, and returns the first one's row.
func putUsers(t *testing.T, db *runtime.DB, users *runtime.Table, n, sessions int) runtime.Ref {
	t.Helper()
	var first runtime.Ref
	for i := range n {
		u := userWithSessions(fmt.Sprintf("u%d", i), sessions)
		ref := must[runtime.Ref](t)(users.RowOf(u))
		check(t, db.Put(context.Background(), ref, u))
		if i == 0 {
			first = ref
		}
	}
	return first
}
