package runtime_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// writeBetween runs write once, as the second iterator it hooks opens: a
// concurrent writer landing between two iterator openings of one read,
// deterministically.
type writeBetween struct {
	opened atomic.Int32
	write  func()
}

func (w *writeBetween) hook(_ kv.IterOptions, it kv.Iterator) kv.Iterator {
	if w.opened.Add(1) == 2 && w.write != nil {
		w.write()
	}
	return it
}

// TestScanIsOnePointInTime: a typed scan and Get on a *DB of rows with
// fields apart (read through two iterators: the rows' and the apart
// field's) while a writer moves 5 from one row's registered (in the row's
// value) to a row's apart counter, between the two iterator openings. The
// sum over what one read returns must be the sum of one state.
func TestScanIsOnePointInTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		from, to string
		read     func(apartpb.ApartUserTable) ([]*apartpb.ApartUser, error)
	}{
		{"typed Scan", "a", "b", func(users apartpb.ApartUserTable) ([]*apartpb.ApartUser, error) {
			var got []*apartpb.ApartUser
			for u, err := range users.Scan(ctx, nil, runtime.ScanOptions{}) {
				if err != nil {
					return nil, err
				}
				got = append(got, u)
			}
			return got, nil
		}},
		{"typed reverse Scan of fields", "b", "a", func(users apartpb.ApartUserTable) ([]*apartpb.ApartUser, error) {
			var got []*apartpb.ApartUser
			for u, err := range users.Scan(ctx, nil, runtime.ScanOptions{Reverse: true, Fields: []string{"registered", "counters"}}) {
				if err != nil {
					return nil, err
				}
				got = append(got, u)
			}
			return got, nil
		}},
		{"typed Get", "b", "b", func(users apartpb.ApartUserTable) ([]*apartpb.ApartUser, error) {
			u, err := users.Get(ctx, "b")
			return []*apartpb.ApartUser{u}, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			between := &writeBetween{}
			db, _ := openApart(t, &kvtest.HookIters{Store: memkv.New(), Hook: between.hook})
			users := must[apartpb.ApartUserTable](t)(apartpb.NewApartUserTable(db))
			for _, id := range []string{"a", "b"} {
				check(t, users.Put(ctx, &apartpb.ApartUser{UserId: id, Registered: 10, Counters: map[string]int64{"c": 0}}))
			}
			var moveErr error
			between.opened.Store(0)
			between.write = func() {
				moveErr = db.Update(ctx, func(tx *runtime.Tx) error {
					in := users.In(tx)
					from, err := in.Get(ctx, tc.from)
					if err != nil {
						return err
					}
					from.Registered -= 5
					if err := in.Put(ctx, from); err != nil {
						return err
					}
					return in.Row(tc.to).Counters().Set(ctx, "c", 5)
				})
			}
			got, err := tc.read(users)
			check(t, err)
			check(t, moveErr)
			if between.opened.Load() < 2 {
				t.Fatalf("the read opened %d iterators: the write did not run between two", between.opened.Load())
			}
			sum := int64(0)
			for _, u := range got {
				sum += int64(u.Registered) + u.Counters["c"]
			}
			if want := int64(10 * len(got)); sum != want {
				t.Errorf("sum of registered and counters over %d rows: got %d, want %d (the read mixed two states: %v)", len(got), sum, want, got)
			}
		})
	}
}
