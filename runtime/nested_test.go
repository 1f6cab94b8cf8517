package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// TestDBCallInsideUpdate: a DB-level call made inside DB.Update (instead
// of one on the Tx) neither hangs nor joins the transaction: it runs as a
// transaction of its own, committed when it returns, whatever becomes of
// the enclosing one. (On the former single-writer engines it waited
// forever for the lock the enclosing Update held.)
func TestDBCallInsideUpdate(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			// The deadline only turns a regression (a hang) into a failure.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db := openDB(t, open())
			users := table(t, db, "User")
			outer := &testpb.User{UserId: "outer", Registered: 1}
			inner := &testpb.User{UserId: "inner", Registered: 2}
			oref := must[runtime.Ref](t)(users.RowOf(outer))
			iref := must[runtime.Ref](t)(users.RowOf(inner))

			rollback := errors.New("rollback")
			err := db.Update(ctx, func(tx *runtime.Tx) error {
				check(t, tx.Put(ctx, oref, outer))
				// DB-level: its own transaction, visible at once to other
				// DB-level reads, not to this transaction's snapshot.
				if err := db.Put(ctx, iref, inner); err != nil {
					return err
				}
				if err := db.Get(ctx, iref, &testpb.User{}); err != nil {
					t.Errorf("DB-level Get of the DB-level Put inside Update: %v", err)
				}
				if err := tx.Get(ctx, iref, &testpb.User{}); !errors.Is(err, runtime.ErrNotFound) {
					t.Errorf("Tx Get of a row committed after its snapshot = %v, want ErrNotFound", err)
				}
				if err := db.Get(ctx, oref, &testpb.User{}); !errors.Is(err, runtime.ErrNotFound) {
					t.Errorf("DB-level Get of the enclosing transaction's uncommitted write = %v, want ErrNotFound", err)
				}
				return rollback
			})
			if !errors.Is(err, rollback) {
				t.Fatalf("Update = %v, want the function's error", err)
			}
			got := &testpb.User{}
			check(t, db.Get(ctx, iref, got))
			wantEqual(t, "the DB-level Put made inside a rolled-back Update", inner, got)
			if err := db.Get(ctx, oref, &testpb.User{}); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("the rolled-back Update's own write: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestUpdateRetriesOnConflict: a write committed between an Update's read
// and its commit makes the Update run its function again, on the new state.
func TestUpdateRetriesOnConflict(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db := openDB(t, open())
			users := table(t, db, "User")
			ref := must[runtime.Ref](t)(users.RowOf(&testpb.User{UserId: "u"}))
			check(t, db.Put(ctx, ref, &testpb.User{UserId: "u", Registered: 1}))
			runs := 0
			check(t, db.Update(ctx, func(tx *runtime.Tx) error {
				runs++
				u := &testpb.User{}
				if err := tx.Get(ctx, ref, u); err != nil {
					return err
				}
				if runs == 1 { // a concurrent writer commits now
					if err := db.Put(ctx, ref, &testpb.User{UserId: "u", Registered: 10}); err != nil {
						return err
					}
				}
				u.Registered++
				return tx.Put(ctx, ref, u)
			}))
			got := &testpb.User{}
			check(t, db.Get(ctx, ref, got))
			if got.GetRegistered() != 11 || runs != 2 {
				t.Errorf("registered = %d after %d runs, want 11 after 2", got.GetRegistered(), runs)
			}
		})
	}
}

// TestFirstQueryInsideUpdate: the first query of a DB handle, run on the
// Tx inside Update, creates the cursor secret in a transaction of its own
// instead of waiting for the enclosing one (it used to hang).
func TestFirstQueryInsideUpdate(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db := openDB(t, open())
			q, err := query.Compile(db.Catalog(), `User[$id] { registered }`)
			if err != nil {
				t.Fatal(err)
			}
			ref := must[runtime.Ref](t)(table(t, db, "User").RowOf(&testpb.User{UserId: "u"}))
			n := 0
			check(t, db.Update(ctx, func(tx *runtime.Tx) error {
				if err := tx.Put(ctx, ref, &testpb.User{UserId: "u", Registered: 3}); err != nil {
					return err
				}
				for _, err := range tx.Query(ctx, q, map[string]any{"id": "u"}) {
					if err != nil {
						return err
					}
					n++
				}
				return nil
			}))
			if n != 1 {
				t.Errorf("query inside Update returned %d rows, want 1 (the transaction's own write)", n)
			}
		})
	}
}
