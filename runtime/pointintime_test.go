package runtime_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// writeBetween is a store that runs write once, right after the second
// iterator opens (on the store or in a View of it): a concurrent writer
// landing between two iterator openings of one read, deterministically.
type writeBetween struct {
	kv.Store
	opened atomic.Int32
	write  func()
}

func (s *writeBetween) opening() {
	if s.opened.Add(1) == 2 && s.write != nil {
		s.write()
	}
}

func (s *writeBetween) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := s.Store.NewIter(ctx, o)
	s.opening()
	return it, err
}

func (s *writeBetween) View(ctx context.Context, fn func(kv.Reader) error) error {
	return s.Store.View(ctx, func(r kv.Reader) error { return fn(viewBetween{r, s}) })
}

type viewBetween struct {
	kv.Reader
	s *writeBetween
}

func (v viewBetween) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := v.Reader.NewIter(ctx, o)
	v.s.opening()
	return it, err
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
			store := &writeBetween{Store: memkv.New()}
			db, _ := openApart(t, store)
			users := must[apartpb.ApartUserTable](t)(apartpb.NewApartUserTable(db))
			for _, id := range []string{"a", "b"} {
				check(t, users.Put(ctx, &apartpb.ApartUser{UserId: id, Registered: 10, Counters: map[string]int64{"c": 0}}))
			}
			var moveErr error
			store.opened.Store(0)
			store.write = func() {
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
			if store.opened.Load() < 2 {
				t.Fatalf("the read opened %d iterators: the write did not run between two", store.opened.Load())
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
