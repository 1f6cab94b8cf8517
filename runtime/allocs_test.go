package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestWriteAllocs holds the typed write paths to their allocation budgets
// on Pebble (a contract, counted, not timed). The breakout setter's 1 is
// the row's key buffer, which holds the field's key too (keyBuf); the
// batch, its encoding buffers, the type checks of the key and value, and
// telemetry (no span is started while nothing is installed to record it;
// see observe.go) allocate nothing. The entry setter's 2 are the key
// buffer of its three keys (row, map, entry) and Inline.Set's closure; on
// Pebble it is a blind write of a field patch (kv.KeyMerger), whose call,
// patch buffer and commit item are pooled, and every 8th of a key a
// single-key read-modify-write (kv.KeyUpdater) whose registration is
// pooled too and whose read merges the key's patches in a pooled merger. The Put's map
// entries are read from the Go map (goPlan), without an allocation per
// key, the range end and map iterator come with the pooled batch, and
// pebblekv lists the replaced row's 11 keys into one pooled buffer
// (rangeKeys) to delete them; the row's Ref is built once, from the
// message (TypedTable.Put), and schema.Column.Check does not box the
// key's value: 3, with a budget of 4 leaving one for the background's
// allocations (it measured 4 when Check boxed; earlier budgets: 7 when put
// built it again to compare; 23 with a copy of each listed key; 38 through
// protoreflect's Range and a new end and iterator). Check's boxing alone
// stays within the budget: TestCheckAllocs (package schema) pins it.
func TestWriteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	db := openDB(t, openPebble(t))
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	const rows = 64
	ids := make([]string, rows)
	msgs := make([]*testpb.User, rows)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%05d", i)
		msgs[i] = userWithSessions(ids[i], 10)
		check(t, users.Put(ctx, msgs[i]))
	}
	checkAllocBudgets(t, []allocCase{
		{"breakout Set", 1, func(i int) error {
			return users.Row(ids[i%rows]).LastSeenUs().Set(ctx, int64(i)<<20)
		}},
		{"map entry inline Set", 2, func(i int) error {
			return users.Row(ids[i%rows]).Sessions().Entry("session-03").ExpiresUs().Set(ctx, int64(i)<<20)
		}},
		{"Put of a user with 10 sessions", 4, func(i int) error {
			return users.Put(ctx, msgs[i%rows])
		}},
	})
	// A key of 3 columns: RowOf keeps its values in a stack array (a
	// slice made for them escapes once it is over 32 bytes, 2 values).
	inboxes := must[testpb.InboxTable](t)(testpb.NewInboxTable(db))
	mails := make([]*testpb.Inbox, rows)
	for i := range mails {
		mails[i] = &testpb.Inbox{Owner: ids[i], Folder: testpb.Folder_FOLDER_INBOX, ReceivedUs: int64(i) << 20, Subject: "hello"}
		check(t, inboxes.Put(ctx, mails[i]))
	}
	checkAllocBudgets(t, []allocCase{
		// 4: its steady state is 3 since schema.Column.Check stopped
		// boxing the key's values (the folder enum, the time), and one for
		// the background's allocations, which move the mean (it was 6
		// with a steady state of 5.98–6.04 over runs of 2,000, and failed
		// whenever the mean came out a hair over its budget).
		{"Put of an inbox row", 4, func(i int) error {
			return inboxes.Put(ctx, mails[i%rows])
		}},
	})
}

// TestScanAllocs holds the projected typed scan of scalar fields (the row
// plan, rowplan.go) to its allocation budget per row on Pebble. Its rows
// come from slabs of messages and their strings (here the key's name and
// the field s) are cut from shared blocks (rowAlloc): a Scalars message
// is 272 bytes, so a full slab holds 25 of them (slabBytes): rows 64 to
// 127 take two new slabs (slabs of 1, 2, 4, 8, 16, then 25 start at rows
// 81 and 106), and ~12 bytes of strings a row a 1 or 2 KiB block: 3
// allocations for 64 rows. Counted as the difference between scans of 128 and 64
// rows, so that the scan's own setup drops out, on DB.Scan and on the
// typed table's Scan (the bench's scans), whose planned rows come by
// address. A scan of a few rows
// allocates no more than one message and one string a row (the slabs
// and blocks start small).
func TestScanAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	db := openScalars(t, openPebble(t))
	tbl := table(t, db, "Scalars")
	scalars := must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db))
	for i := range 200 {
		check(t, scalars.Put(ctx, &testpb.Scalars{Name: fmt.Sprintf("row-%03d", i), N: int32(i), S: fmt.Sprintf("s%d", i), I64: int64(i)}))
	}
	// typed makes scan read with the typed table's Scan (the rows its
	// row plan decodes come by address: scanRowsTo, rowAt), as the bench's
	// scan workloads do, rather than DB.Scan.
	typed := false
	scan := func(limit int, reuse bool) float64 {
		var err error
		opts := runtime.ScanOptions{Fields: []string{"s", "i64"}, Limit: limit, Reuse: reuse}
		got := testing.AllocsPerRun(50, func() {
			n := 0
			visit := func(s *testpb.Scalars, e error) {
				if e != nil && err == nil {
					err = e
				}
				if e == nil && (s.Name == "" || s.S == "") {
					t.Fatalf("row %d: %v, want its name and s", n, s)
				}
				n++
			}
			if typed {
				for s, e := range scalars.Scan(ctx, nil, opts) {
					visit(s, e)
				}
				return
			}
			for m, e := range db.Scan(ctx, tbl, runtime.KeyRange{}, opts) {
				s, _ := m.(*testpb.Scalars)
				visit(s, e)
			}
		})
		check(t, err)
		return got
	}
	for _, typed = range []bool{false, true} {
		perRow := (scan(128, false) - scan(64, false)) / 64
		t.Logf("typed %v: %.3f allocations per row", typed, perRow)
		if perRow > 3.0/64 {
			t.Errorf("typed %v: %.3f allocations per row, budget 3/64 (a slab of 25 messages every 25 rows, a block of strings now and then)", typed, perRow)
		}
	}
	typed = false
	one := scan(1, false)
	for n := 2; n <= 8; n++ {
		if got := scan(n, false) - one; got > float64(2*(n-1)) {
			t.Errorf("a scan of %d rows: %.0f allocations more than a scan of one, budget %d (a message and a string a row)", n, got, 2*(n-1))
		}
	}
	// With ScanOptions.Reuse, one message for every row and the strings
	// cut from 4 KiB blocks: ~12 bytes a row here, so one block for the
	// 64 rows more.
	perRow := (scan(128, true) - scan(64, true)) / 64
	t.Logf("reusing: %.2f allocations per row", perRow)
	if perRow > 0.05 {
		t.Errorf("reusing: %.2f allocations per row, budget 0.05 (a block of strings now and then)", perRow)
	}
}

// TestPointReadAllocs holds the point reads of issue 16 to their
// allocation budgets on Pebble: the sessions query (DESIGN.md §8) and the
// typed Get of a user with 10 sessions. Most are the result's (the
// message, its map's and the entries' slab, one string of all the map
// keys, the key column's string); then the cursor position kept for the
// result, pebblekv's iterator adapter and the closures of DB.Query's
// iterator and of the test's loop. Binding the query's variable (into the
// pooled Bound), the call's options when it has none, the map scan's
// bounds and Pebble's iterator options allocate nothing.
func TestPointReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	db := openDB(t, openPebble(t))
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	const rows = 64
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%05d", i)
		check(t, users.Put(ctx, userWithSessions(ids[i], 10)))
	}
	q := query.MustCompile(db.Catalog(), `User[$id] { sessions(first: 10) { expires_us } }`)
	vars := map[string]any{}
	checkAllocBudgets(t, []allocCase{
		{"sessions query", 16, func(i int) error {
			vars["id"] = ids[i%rows]
			n := 0
			for res, err := range db.Query(ctx, q, vars) {
				if err != nil {
					return err
				}
				if len(res.Msg.(*testpb.User).Sessions) != 10 {
					return fmt.Errorf("%d sessions, want 10", len(res.Msg.(*testpb.User).Sessions))
				}
				n++
			}
			if n != 1 {
				return fmt.Errorf("%d results", n)
			}
			return nil
		}},
		{"typed Get of a user with 10 sessions", 21, func(i int) error {
			u, err := users.Get(ctx, ids[i%rows])
			if err == nil && len(u.Sessions) != 10 {
				err = fmt.Errorf("%d sessions, want 10", len(u.Sessions))
			}
			return err
		}},
	})
}

// TestIndexGetAllocs holds the unique index lookup (the generated
// ByEmail().Get on Pebble) to its allocation budget. Checking that the
// index is readable looks its state up by the index's id built on the
// stack (schema.Index.AppendIndexID), not by a new string (IndexID: its
// scope slice, its bytes and the string were 3 more), and pebblekv's
// View reads the entry with its upper bound in the view's own buffer
// (one more when the bound was allocated per read), and indexRead passes
// View a pooled call's method value (a closure was one more). The pooled
// call also decodes the row (indexGet: Get's emit closure and the
// variable it filled were 2 more), checks its Go type by reflect.Type (a
// generic function value was 1 more) and builds the entry's key in its
// own buffer without the unused upper bound (2 more), and the index's
// prefix too (1 more); the exec builds the entry's target and the
// table's scope in its own buffers (3 more); schema.Column.Check does
// not box the value (1 more), and the pooled call holds the value for
// the read (indexValuesIn: a slice of Get's own escaped, 1 more): 14.
func TestIndexGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	accounts, emails := openAccounts(t)
	rows := len(emails)
	byEmail := accounts.ByEmail()
	checkAllocBudgets(t, []allocCase{
		{"unique index Get", 14, func(i int) error {
			a, err := byEmail.Get(ctx, emails[i%rows])
			if err == nil && a.GetEmail() != emails[i%rows] {
				err = fmt.Errorf("Get(%q) found %q", emails[i%rows], a.GetEmail())
			}
			return err
		}},
	})
}

// TestMapIndexGetAllocs holds the unique lookup in a map's index (the
// generated TasksBySlug().Get on Pebble) to its allocation budget. The
// pooled indexCall decodes the entry and checks its Go types
// (indexGetEntry: Get's emit closure and the result it filled were 2
// more): 16.
func TestMapIndexGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	accounts, _ := openAccounts(t)
	a := &testpb.Account{Org: "o3", AccountId: 1, Tasks: map[string]*testpb.Task{}}
	slugs := make([]string, 16)
	for i := range slugs {
		slugs[i] = fmt.Sprintf("slug-%02d", i)
		a.Tasks[fmt.Sprintf("t%02d", i)] = &testpb.Task{Slug: proto.String(slugs[i]), Priority: uint32(i)}
	}
	check(t, accounts.Put(ctx, a))
	bySlug := accounts.Row(testpb.AccountKey{Org: "o3", AccountId: 1}).TasksBySlug()
	checkAllocBudgets(t, []allocCase{
		{"map index Get", 16, func(i int) error {
			e, err := bySlug.Get(ctx, slugs[i%len(slugs)])
			if err == nil && (e.Key != fmt.Sprintf("t%02d", i%len(slugs)) || e.Value.GetSlug() != slugs[i%len(slugs)]) {
				err = fmt.Errorf("Get(%q) found %q: %v", slugs[i%len(slugs)], e.Key, e.Value)
			}
			return err
		}},
	})
}

// TestIndexedPutAllocs holds the Put of a row of a table with indexes (a
// unique index on email among others: an optimistic transaction reading
// the old row and the unique entry) to its allocation budget on Pebble,
// inserting new rows and replacing loaded ones with a new email. The
// transaction's copies of its keys and values come from its own arena and
// its write buffer nodes from a slab (package occ), a missing key's error
// holds its key copy (kv.NotFound), the index delta keeps its entries in
// lists (idxSet), an entry's key and value are one buffer
// (schema.Index.Keys), the store's function is a pooled call's method
// value (putCall), and the row's deleted range keeps its bounds in the
// transaction's arena and its one entry in the Txn (3 more),
// schema.Column.Check does not box the key's values (1 more), the write
// buffer's first nodes are the Txn's (1 more), the index delta is the
// pooled call's (1 more), and so are the row's key and value buffers (3
// more: a key buffer and the value's growing twice): 27 and 38 (84 and 115
// before those changes; the budgets leave one allocation for the
// background's).
func TestIndexedPutAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	checkAllocBudgets(t, indexedPuts(t, openPebble(t), 28, 39))
}

// TestIndexedPutAllocsMem holds the same Puts on memkv, whose store runs
// nothing in the background, to budgets of the steady counts plus one
// half (a GC emptying the pools moves the mean by a few hundredths): a
// single allocation more per Put fails it, which Pebble's budget, with its
// whole allocation for the background's, lets pass. 48 and 50: the pooled
// call's index delta and its key and value buffers are among the
// allocations it pins.
func TestIndexedPutAllocsMem(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	checkAllocBudgets(t, indexedPuts(t, memkv.New(), 48.5, 50.5))
}

// indexedPuts returns TestIndexedPutAllocs' cases on store with the two
// budgets.
func indexedPuts(t *testing.T, store kv.Store, insert, update float64) []allocCase {
	ctx := context.Background()
	accounts, emails := openAccountsOn(t, store)
	rows := len(emails)
	inserts := make([]*testpb.Account, 400)
	for i := range inserts {
		inserts[i] = &testpb.Account{Org: "o2", AccountId: uint64(i + 1), Email: proto.String(fmt.Sprintf("n%04d@x", i))}
	}
	updates := make([]*testpb.Account, 400)
	for i := range updates {
		updates[i] = &testpb.Account{Org: "o1", AccountId: uint64(i%rows + 1), Email: proto.String(fmt.Sprintf("u%02d.%d@x", i%rows, i))}
	}
	return []allocCase{
		{"Put of a new indexed row", insert, func(i int) error { return accounts.Put(ctx, inserts[i%len(inserts)]) }},
		{"Put replacing an indexed row's email", update, func(i int) error { return accounts.Put(ctx, updates[i%len(updates)]) }},
	}
}

// openAccounts opens the indexed Account table (querytest.OpenIndexed) on
// Pebble holding 64 rows of org "o1", account ids 1 to 64, the i-th with
// the email emails[i] ("u00@x" to "u63@x").
func openAccounts(t *testing.T) (accounts testpb.AccountTable, emails []string) {
	t.Helper()
	return openAccountsOn(t, openPebble(t))
}

// openAccountsOn is openAccounts on store.
func openAccountsOn(t *testing.T, store kv.Store) (accounts testpb.AccountTable, emails []string) {
	t.Helper()
	db := querytest.OpenIndexed(t, store)
	accounts = must[testpb.AccountTable](t)(testpb.NewAccountTable(db))
	emails = make([]string, 64)
	for i := range emails {
		emails[i] = fmt.Sprintf("u%02d@x", i)
		check(t, accounts.Put(context.Background(), &testpb.Account{Org: "o1", AccountId: uint64(i + 1), Email: &emails[i]}))
	}
	return accounts, emails
}

// allocCase is an operation with its allocation budget: op(i) runs the
// i-th operation.
type allocCase struct {
	name   string
	budget float64
	op     func(i int) error
}

// checkAllocBudgets runs each case 200 times (after a warm-up) and fails
// the test when an operation fails or averages more allocations than its
// budget.
func checkAllocBudgets(t *testing.T, cases []allocCase) {
	t.Helper()
	for _, c := range cases {
		i := 0
		var err error
		got := testing.AllocsPerRun(200, func() {
			if e := c.op(i); e != nil && err == nil {
				err = e
			}
			i++
		})
		check(t, err)
		t.Logf("%s: %.1f allocations", c.name, got)
		if got > c.budget {
			t.Errorf("%s: %.1f allocations, budget %g", c.name, got, c.budget)
		}
	}
}
