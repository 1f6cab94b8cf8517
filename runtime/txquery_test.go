package runtime_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// txQueryRegistered runs q (of User rows selecting registered) on tx and
// returns each row's registered by user id.
func txQueryRegistered(ctx context.Context, t *testing.T, tx *runtime.Tx, q *query.Query, vars map[string]any) (map[string]uint64, error) {
	t.Helper()
	got := map[string]uint64{}
	for res, err := range tx.Query(ctx, q, vars) {
		if err != nil {
			return nil, err
		}
		u, ok := res.Msg.(*testpb.User)
		if !ok {
			t.Fatalf("query result is a %T, want *testpb.User", res.Msg)
		}
		got[u.GetUserId()] = u.GetRegistered()
	}
	return got, nil
}

// TestTxQueryReadsOwnWrites: a query on the Tx of an Update sees the
// transaction's pending writes over the committed state — a row it
// replaced (its new value, not the committed one), a row it deleted (gone)
// and a row it inserted — through a point read and through a scan, and
// the committed state stays as it was until the commit. (DB.Query runs a
// point read on a Store-level iterator; Tx.Query must not.)
func TestTxQueryReadsOwnWrites(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db := openDB(t, open())
			users := table(t, db, "User")
			point := must[*query.Query](t)(query.Compile(db.Catalog(), `User[$id] { registered }`))
			scan := must[*query.Query](t)(query.Compile(db.Catalog(), `User { registered }`))
			ref := func(id string) runtime.Ref {
				return must[runtime.Ref](t)(users.RowOf(&testpb.User{UserId: id}))
			}
			check(t, db.Put(ctx, ref("u"), &testpb.User{UserId: "u", Registered: 1}))
			check(t, db.Put(ctx, ref("v"), &testpb.User{UserId: "v", Registered: 2}))
			check(t, db.Update(ctx, func(tx *runtime.Tx) error {
				check(t, tx.Put(ctx, ref("u"), &testpb.User{UserId: "u", Registered: 5}))
				check(t, tx.Delete(ctx, ref("v")))
				check(t, tx.Put(ctx, ref("w"), &testpb.User{UserId: "w", Registered: 7}))
				for id, want := range map[string]map[string]uint64{"u": {"u": 5}, "v": {}, "w": {"w": 7}} {
					got, err := txQueryRegistered(ctx, t, tx, point, map[string]any{"id": id})
					if err != nil {
						return err
					}
					if !maps.Equal(got, want) {
						t.Errorf("point query of %s inside Update = %v, want %v (the transaction's own writes)", id, got, want)
					}
				}
				got, err := txQueryRegistered(ctx, t, tx, scan, nil)
				if err != nil {
					return err
				}
				if want := map[string]uint64{"u": 5, "w": 7}; !maps.Equal(got, want) {
					t.Errorf("scan inside Update = %v, want %v (the transaction's own writes)", got, want)
				}
				// Outside the transaction, nothing yet.
				var outside map[string]uint64
				for res, err := range db.Query(ctx, scan, nil) {
					if err != nil {
						return err
					}
					if outside == nil {
						outside = map[string]uint64{}
					}
					u := res.Msg.(*testpb.User)
					outside[u.GetUserId()] = u.GetRegistered()
				}
				if want := map[string]uint64{"u": 1, "v": 2}; !maps.Equal(outside, want) {
					t.Errorf("DB.Query during the Update = %v, want the committed %v", outside, want)
				}
				return nil
			}))
		})
	}
}

// TestTxQueryConflicts: what a query on the Tx of a read-write Update read
// is validated at commit. A write committed after the query read a row
// (point read), or a row inserted into the range it scanned (a phantom),
// makes the Update run its function again, on the new state, even though
// the transaction writes none of the rows it read.
func TestTxQueryConflicts(t *testing.T) {
	for name, open := range engines(t) {
		for _, tc := range []struct {
			name string
			src  string
			vars map[string]any
			// concurrent is the write committed during the first run;
			// want is the sum of registered the second run must read.
			concurrent *testpb.User
			want       uint64
		}{
			{"point", `User[$id] { registered }`, map[string]any{"id": "u"}, &testpb.User{UserId: "u", Registered: 10}, 10},
			{"scan phantom", `User { registered }`, nil, &testpb.User{UserId: "p", Registered: 20}, 21},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				db := openDB(t, open())
				users := table(t, db, "User")
				q := must[*query.Query](t)(query.Compile(db.Catalog(), tc.src))
				ref := func(id string) runtime.Ref {
					return must[runtime.Ref](t)(users.RowOf(&testpb.User{UserId: id}))
				}
				check(t, db.Put(ctx, ref("u"), &testpb.User{UserId: "u", Registered: 1}))
				runs := 0
				var seen [][]string
				check(t, db.Update(ctx, func(tx *runtime.Tx) error {
					runs++
					got, err := txQueryRegistered(ctx, t, tx, q, tc.vars)
					if err != nil {
						return err
					}
					seen = append(seen, slices.Sorted(maps.Keys(got)))
					if runs == 1 { // a concurrent writer commits now
						if err := db.Put(ctx, ref(tc.concurrent.UserId), tc.concurrent); err != nil {
							return err
						}
					}
					var sum uint64
					for _, r := range got {
						sum += r
					}
					// The sum goes to a row no concurrent write touches:
					// only the query's reads can conflict.
					return tx.Put(ctx, ref("zz-sum"), &testpb.User{UserId: "zz-sum", Registered: sum})
				}))
				got := &testpb.User{}
				check(t, db.Get(ctx, ref("zz-sum"), got))
				if got.GetRegistered() != tc.want || runs != 2 {
					t.Errorf("sum = %d after %d runs (rows read: %v), want %d after 2: the query's reads were not conflict-checked", got.GetRegistered(), runs, seen, tc.want)
				}
			})
		}
	}
}
