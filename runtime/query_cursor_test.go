package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestQueryCursorChecks(t *testing.T) {
	db := qExampleDB(t)
	cat := db.Catalog()
	q := query.MustCompile(cat, `User(first: 1, after: $c) { registered }`)
	res, err := querytest.Collect(t, db, q, map[string]any{"c": ""})
	if err != nil || len(res) != 1 {
		t.Fatalf("first page: %v, %d results", err, len(res))
	}
	cur := res[0].Cursor()

	// The cursor resumes the same query, with another page size too.
	q2 := query.MustCompile(cat, `User(first: 2, after: $c) { registered }`)
	if res, err := querytest.Collect(t, db, q2, map[string]any{"c": cur}); err != nil || len(res) != 2 || querytest.Text(res[0].Msg.ProtoReflect()) != `{user_id:"bob" registered:7}` {
		t.Errorf("resuming with another page size: %v, %v", err, res)
	}

	// Another query refuses it, at the argument's position.
	other := query.MustCompile(cat, `User(after: $c) { user_id }`)
	_, err = querytest.Collect(t, db, other, map[string]any{"c": cur})
	if want := `query: 1:13: after: the cursor was returned by another query; a cursor resumes only the query that returned it`; err == nil || err.Error() != want {
		t.Errorf("cursor of another query: got %v, want %s", err, want)
	}

	// A changed byte fails the MAC, as does another secret.
	b := []byte(cur)
	b[len(b)/2] ^= 1
	if b[len(b)/2] == '-' || b[len(b)/2] == '_' {
		b[len(b)/2] = 'A'
	}
	_, err = querytest.Collect(t, db, q, map[string]any{"c": string(b)})
	if !errors.Is(err, query.ErrCursor) {
		t.Errorf("altered cursor: got %v, want ErrCursor", err)
	}
	_, err = querytest.Collect(t, db, q, map[string]any{"c": cur}, runtime.WithCursorKey([]byte("another database, another key...")))
	if want := `query: 1:23: after: the cursor failed its integrity check: it was altered, or issued by another database`; err == nil || err.Error() != want {
		t.Errorf("cursor of another secret: got %v, want %s", err, want)
	}

	// Without WithCursorKey the DB creates and keeps its own secret.
	var got []runtime.Result
	for r, err := range db.Query(context.Background(), q, map[string]any{"c": ""}) {
		check(t, err)
		got = append(got, r)
	}
	for r, err := range db.Query(context.Background(), q, map[string]any{"c": got[0].Cursor()}) {
		check(t, err)
		if querytest.Text(r.Msg.ProtoReflect()) != `{user_id:"bob" registered:7}` {
			t.Errorf("resuming with the stored secret: got %s", querytest.Text(r.Msg.ProtoReflect()))
		}
	}
	db2 := openDB(t, db.Store())
	for _, err := range db2.Query(context.Background(), q, map[string]any{"c": got[0].Cursor()}) {
		check(t, err) // another handle on the same store shares the secret
	}
}

// TestQueryCursorKeyLength: WithCursorKey refuses a key shorter than the
// 32 bytes of the secret protoql generates, empty included, with an error
// naming the length, from every query call; 32 bytes and more are taken,
// and nil means the DB's own secret.
func TestQueryCursorKeyLength(t *testing.T) {
	db := qExampleDB(t)
	q := query.MustCompile(db.Catalog(), `User(first: 1, after: $c) { registered }`)
	vars := map[string]any{"c": ""}
	for _, n := range []int{0, 1, 16, 31} {
		key := make([]byte, n)
		_, err := querytest.Collect(t, db, q, vars, runtime.WithCursorKey(key))
		if !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("is %d bytes, want at least 32", n)) {
			t.Errorf("db.Query, %d-byte key: got %v, want ErrInvalid naming 32 bytes", n, err)
		}
		err = db.Update(context.Background(), func(tx *runtime.Tx) error {
			for _, err := range tx.Query(context.Background(), q, vars, runtime.WithCursorKey(key)) {
				if err != nil {
					return err
				}
			}
			return nil
		})
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("tx.Query, %d-byte key: got %v, want ErrInvalid", n, err)
		}
	}
	for _, key := range [][]byte{nil, make([]byte, 32), make([]byte, 100)} {
		res, err := querytest.Collect(t, db, q, vars, runtime.WithCursorKey(key))
		if err != nil || len(res) != 1 {
			t.Fatalf("%d-byte key: %v, %d results (want nil, 1)", len(key), err, len(res))
		}
		// The cursor resumes under the same key.
		res, err = querytest.Collect(t, db, q, map[string]any{"c": res[0].Cursor()}, runtime.WithCursorKey(key))
		if err != nil || len(res) != 1 {
			t.Errorf("%d-byte key, resumed: %v, %d results (want nil, 1)", len(key), err, len(res))
		}
	}
}

func TestQueryNamespaceAndTx(t *testing.T) {
	store := memkv.New()
	a := openDB(t, store, runtime.WithNamespace("a"))
	b := openDB(t, store, runtime.WithNamespace("b"))
	querytest.Put(t, a, &testpb.User{UserId: "alice", Registered: 1})
	querytest.Put(t, b, &testpb.User{UserId: "bob", Registered: 2})
	q := query.MustCompile(a.Catalog(), `User { registered }`)
	for _, db := range []*runtime.DB{a, b} {
		res, err := querytest.Collect(t, db, q, nil)
		if err != nil || len(res) != 1 {
			t.Fatalf("namespace %x: %v, %d results", db.Namespace(), err, len(res))
		}
	}
	// A cursor of one namespace is refused by the other: each has its own
	// secret.
	var cur string
	for r, err := range a.Query(context.Background(), q, nil) {
		check(t, err)
		cur = r.Cursor()
	}
	qa := query.MustCompile(a.Catalog(), `User(after: $c) { registered }`)
	for _, err := range b.Query(context.Background(), qa, map[string]any{"c": cur}) {
		if !errors.Is(err, query.ErrCursor) {
			t.Errorf("cursor of another namespace: got %v, want ErrCursor", err)
		}
	}
	// Inside a transaction the query sees the transaction's writes.
	err := a.Update(context.Background(), func(tx *runtime.Tx) error {
		users, _ := a.Table("User")
		ref, _ := users.Row(protoreflect.ValueOfString("carol"))
		if err := tx.Put(context.Background(), ref, &testpb.User{UserId: "carol", Registered: 3}); err != nil {
			return err
		}
		n := 0
		for _, err := range tx.Query(context.Background(), q, nil, runtime.WithCursorKey(querytest.CursorKey)) {
			if err != nil {
				return err
			}
			n++
		}
		if n != 2 {
			t.Errorf("query in a transaction: %d rows, want 2", n)
		}
		return nil
	})
	check(t, err)
}

// TestQueryConcurrent runs one compiled query from many goroutines with
// different variables (run with -race).
func TestQueryConcurrent(t *testing.T) {
	db := qExampleDB(t)
	q := query.MustCompile(db.Catalog(), `User[$id] { registered, sessions(first: 1) { expires_us } }`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := []string{"alice", "bob", "carol", "zed"}[i%4]
			for range 50 {
				res, err := querytest.Collect(t, db, q, map[string]any{"id": id})
				if err != nil || len(res) != 1 {
					t.Errorf("%s: %v, %d results", id, err, len(res))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestQueryCursorsLazy checks that a query signs no cursor for a row whose
// Cursor is not asked for (an HMAC and a string per row was a quarter of a
// scan's CPU), and that a cursor asked for after the query ended, and
// after other queries reused its execution, still resumes it.
func TestQueryCursorsLazy(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	const n = 200
	for i := range n {
		check(t, users.Put(ctx, &testpb.User{UserId: fmt.Sprintf("u%03d", i), LastSeenUs: int64(i)}))
	}
	q := query.MustCompile(db.Catalog(), `User(after: $c) { last_seen_us }`)
	vars := map[string]any{"c": ""}
	count := func() {
		rows := 0
		for _, err := range db.Query(ctx, q, vars) {
			check(t, err)
			rows++
		}
		if rows != n {
			t.Fatalf("%d rows, want %d", rows, n)
		}
	}
	// Per row: the message and its user_id string; a signed cursor would
	// add its string at least.
	// (Allocation counts differ under the race detector; the resume
	// checks below run under it too.)
	if perRow := testing.AllocsPerRun(5, count) / n; !raceEnabled && perRow > 2.5 {
		t.Errorf("%.2f allocations per row of a query whose cursors nobody reads, want at most 2.5", perRow)
	}
	var kept []runtime.Result
	for res, err := range db.Query(ctx, q, vars) {
		check(t, err)
		kept = append(kept, res)
	}
	count() // reuses the execution
	vars["c"] = kept[99].Cursor()
	var next []runtime.Result
	for res, err := range db.Query(ctx, q, vars) {
		check(t, err)
		next = append(next, res)
	}
	if len(next) != n-100 || next[0].Msg.(*testpb.User).UserId != "u100" {
		t.Fatalf("resumed after the 100th row's cursor: %d rows, first %v", len(next), next[0].Msg)
	}
	if kept[n-1].Cursor() != next[len(next)-1].Cursor() {
		t.Errorf("the same row's cursor differs between two calls")
	}
}
