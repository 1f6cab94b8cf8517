package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// hangGuard is how long a call that must not wait for a lock may take before
// the test reports it as hung. It bounds a failure, not a success: a correct
// run takes milliseconds, and the context turns a hang into an error.
const hangGuard = 10 * time.Second

// TestTxQueryFirstQuery runs a handle's first query (no WithCursorKey)
// inside DB.Update, on a fresh DB and on a reopened one. The cursor secret
// is loaded at Open: asking for it here once waited for the writer lock
// that the caller's own transaction holds, until the context ended.
func TestTxQueryFirstQuery(t *testing.T) {
	stores := map[string]func() kv.Store{
		"memkv":    func() kv.Store { return memkv.New() },
		"pebblekv": func() kv.Store { return openPebble(t) },
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			store := mk()
			for round := range 2 { // fresh, then reopened with the secret stored
				db := openDB(t, store)
				querytest.Put(t, db, &testpb.User{UserId: "u", Registered: 1})
				q := query.MustCompile(db.Catalog(), `User { registered }`)
				ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
				n := 0
				err := db.Update(ctx, func(tx *runtime.Tx) error {
					n = 0
					for _, err := range tx.Query(ctx, q, nil) {
						if err != nil {
							return err
						}
						n++
					}
					return nil
				})
				cancel()
				if err != nil || n != 1 {
					t.Fatalf("round %d: tx.Query inside Update: %v, %d rows (want nil, 1)", round, err, n)
				}
			}
		})
	}
}

// TestFirstQueryBesideOpenUpdate runs a fresh handle's first read-only
// query while another transaction of the same store is open: it must not
// wait for that transaction.
func TestFirstQueryBesideOpenUpdate(t *testing.T) {
	store := memkv.New()
	db := openDB(t, store)
	querytest.Put(t, db, &testpb.User{UserId: "u", Registered: 1})
	db = openDB(t, store) // a fresh handle: nothing cached
	inside, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- store.Update(context.Background(), func(kv.Txn) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	q := query.MustCompile(db.Catalog(), `User { registered }`)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	n := 0
	for _, err := range db.Query(ctx, q, nil) {
		if err != nil {
			t.Errorf("query beside an open Update: %v", err)
			break
		}
		n++
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("query beside an open Update: %d rows, want 1", n)
	}
}
