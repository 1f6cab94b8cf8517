package runtime_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/runtime"
)

// applyOnly hides every optional interface of the store, kv.KeySetter
// among them, so that a DB on it makes its blind writes as batches
// (Apply).
type applyOnly struct{ kv.Store }

// TestSetKeyMatchesApply is the differential test of the single-key write
// path (kv.KeySetter: breakout Set and Clear, scalar map entry Set)
// against the batch path: the same random calls — typed and untyped,
// values of the wrong type, invalid UTF-8 in row keys, map keys and
// values, a nil message, a value over the size limit, deletes of missing
// fields, map entries and rows, calls with a cancelled context — on two
// Pebble stores, one hiding SetKey. Every call must return the same error
// (or none), and the stores must hold the same pairs after every step.
func TestSetKeyMatchesApply(t *testing.T) {
	ctx := context.Background()
	fast := openPebble(t)
	if _, ok := fast.(kv.KeySetter); !ok {
		t.Fatal("pebblekv does not implement kv.KeySetter")
	}
	stores := []kv.Store{fast, applyOnly{openPebble(t)}}
	var dbs []*runtime.DB
	var tables []testpb.UserTable
	for _, s := range stores {
		db := openDB(t, s)
		users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
		for u := range 3 {
			check(t, users.Put(ctx, userWithSessions(fmt.Sprintf("u%d", u), 2)))
		}
		dbs, tables = append(dbs, db), append(tables, users)
	}
	big := strings.Repeat("n", runtime.MaxValueSize+1)
	r := rand.New(rand.NewPCG(3, 4))
	const steps = 2000
	for step := range steps {
		u := []string{"u0", "u1", "u2", "u3", "\xff"}[r.IntN(5)]
		n := int64(r.Uint64() >> uint(r.IntN(64)))
		s := []string{"", "nick", "\xfe", "a longer nickname"}[r.IntN(4)]
		op := r.IntN(15)
		if op == 4 && r.IntN(20) == 0 {
			s = big
		}
		errs := make([]string, len(stores))
		for i, users := range tables {
			row := users.Row(u)
			var err error
			switch op {
			case 0, 1:
				err = row.LastSeenUs().Set(ctx, n)
			case 2:
				err = row.LastSeenUs().Clear(ctx)
			case 3, 4:
				err = row.Nickname().Set(ctx, s) // over the size limit now and then
			case 5:
				var v *testpb.Settings
				if n%3 != 0 {
					v = &testpb.Settings{Dark: n%2 == 0, FontSize: int32(n)}
				}
				err = row.Settings().Set(ctx, v) // nil: a Clear
			case 6:
				err = row.Settings().Clear(ctx)
			case 7:
				err = row.Counters().Set(ctx, s, n)
			case 8:
				err = row.Scores().Set(ctx, n%5, s)
			case 9:
				err = row.Password().ChangedUs().Set(ctx, n)
			case 10:
				// Untyped, and of the wrong type half the time.
				ref, rerr := row.LastSeenUs().Ref()
				v := protoreflect.ValueOfInt64(n)
				if n%2 == 0 {
					v = protoreflect.ValueOfString(s)
				}
				if err = rerr; err == nil {
					err = dbs[i].SetValue(ctx, ref, v)
				}
			case 11:
				err = row.Counters().Delete(ctx, s)
			case 12:
				err = row.Delete(ctx)
			case 13, 14:
				// A cancelled context: the same error, nothing written.
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if op == 13 {
					err = row.LastSeenUs().Set(cctx, n)
				} else {
					err = row.LastSeenUs().Clear(cctx)
				}
			}
			if err != nil {
				errs[i] = err.Error()
			}
		}
		if errs[0] != errs[1] {
			t.Fatalf("step %d (op %d): SetKey: %q; Apply: %q", step, op, errs[0], errs[1])
		}
		if a, b := dumpData(t, stores[0]), dumpData(t, stores[1]); a != b {
			t.Fatalf("step %d (op %d): the stores differ:\nSetKey:\n%s\nApply:\n%s", step, op, a, b)
		}
	}
}
