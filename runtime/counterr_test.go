package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

var errMidRead = errors.New("test: iterator failed mid-read")

// moveFails returns a store whose iterators, while *after is above zero,
// fail on their after-th positioning call (First, Next or a seek),
// reporting errMidRead from Error and Close (a read error past some keys:
// a lost connection, a damaged block).
func moveFails(s kv.Store, after *atomic.Int64) kv.Store {
	return &kvtest.HookIters{Store: s, Hook: func(_ kv.IterOptions, it kv.Iterator) kv.Iterator {
		if n := after.Load(); n > 0 {
			return &moveFailsIter{Iterator: it, left: n}
		}
		return it
	}}
}

type moveFailsIter struct {
	kv.Iterator
	left   int64 // moves before the failing one
	failed bool
}

func (it *moveFailsIter) move(ok bool) bool {
	if it.failed {
		return false
	}
	if it.left--; it.left <= 0 {
		it.failed = true
		return false
	}
	return ok
}

func (it *moveFailsIter) First() bool { return !it.failed && it.move(it.Iterator.First()) }
func (it *moveFailsIter) Next() bool  { return !it.failed && it.move(it.Iterator.Next()) }
func (it *moveFailsIter) SeekGE(k []byte) bool {
	return !it.failed && it.move(it.Iterator.SeekGE(k))
}
func (it *moveFailsIter) SeekLT(k []byte) bool {
	return !it.failed && it.move(it.Iterator.SeekLT(k))
}
func (it *moveFailsIter) Valid() bool { return !it.failed && it.Iterator.Valid() }
func (it *moveFailsIter) Key() []byte {
	if it.failed {
		return nil
	}
	return it.Iterator.Key()
}
func (it *moveFailsIter) Value() []byte {
	if it.failed {
		return nil
	}
	return it.Iterator.Value()
}
func (it *moveFailsIter) Error() error {
	if it.failed {
		return errMidRead
	}
	return it.Iterator.Error()
}
func (it *moveFailsIter) Close() error { return errors.Join(it.Iterator.Close(), it.Error()) }

// TestCountReportsReadError: a count whose iterator fails part way (not
// at Close) returns 0 and that error, never the units it counted before
// the failure as if they were all; with the failure at each move of the
// count in turn.
func TestCountReportsReadError(t *testing.T) {
	ctx := context.Background()
	var after atomic.Int64
	db := openDB(t, moveFails(memkv.New(), &after))
	users := table(t, db, "User")
	u := userWithSessions("u0", 4)
	ref := must[runtime.Ref](t)(users.RowOf(u))
	check(t, db.Put(ctx, ref, u))
	for i := 1; i < 4; i++ {
		v := userWithSessions(fmt.Sprintf("u%d", i), 1)
		check(t, db.Put(ctx, must[runtime.Ref](t)(users.RowOf(v)), v))
	}
	sessions := must[runtime.Ref](t)(ref.FieldByName("sessions"))
	for _, c := range []struct {
		name  string
		count func(tx *runtime.Tx) (int, error)
		want  int
	}{
		{"CountRows", func(tx *runtime.Tx) (int, error) { return tx.CountRows(ctx, users, runtime.KeyRange{}) }, 4},
		{"CountEntries", func(tx *runtime.Tx) (int, error) { return tx.CountEntries(ctx, sessions, runtime.KeyRange{}) }, 4},
	} {
		run := func() (n int, err error) {
			err = db.View(ctx, func(tx *runtime.Tx) error {
				n, err = c.count(tx)
				return err
			})
			return n, err
		}
		after.Store(0)
		if n, err := run(); n != c.want || err != nil {
			t.Fatalf("%s: %d, %v; want %d", c.name, n, err, c.want)
		}
		// A count of want units moves at least want times: failing at
		// each of its first want moves cuts it short every time.
		for move := range int64(c.want) {
			after.Store(move + 1)
			if n, err := run(); n != 0 || !errors.Is(err, errMidRead) {
				t.Errorf("%s failing at move %d: %d, %v; want 0, %v", c.name, move+1, n, err, errMidRead)
			}
		}
	}
}
