package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// countingStore counts the keys that iterators land on.
type countingStore struct {
	kv.Store
	landed *int
}

func (s countingStore) View(ctx context.Context, fn func(kv.Reader) error) error {
	return s.Store.View(ctx, func(r kv.Reader) error { return fn(countingReader{r, s.landed}) })
}

type countingReader struct {
	kv.Reader
	landed *int
}

func (r countingReader) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := r.Reader.NewIter(ctx, o)
	return countingIter{it, r.landed}, err
}

type countingIter struct {
	kv.Iterator
	landed *int
}

func (it countingIter) First() bool          { return it.count(it.Iterator.First()) }
func (it countingIter) Next() bool           { return it.count(it.Iterator.Next()) }
func (it countingIter) SeekGE(k []byte) bool { return it.count(it.Iterator.SeekGE(k)) }
func (it countingIter) count(ok bool) bool {
	if ok {
		*it.landed++
	}
	return ok
}

// TestCount counts rows and map entries in ranges, landing on one key per
// object whatever its subtree holds, and Exists tells stored from missing.
func TestCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	landed := 0
	store := countingStore{memkv.New(), &landed}
	db := openDB(t, store)
	users := table(t, db, "User")
	for i := range 5 {
		u := fullUser(fmt.Sprintf("u%d", i)) // several keys per row, maps of several entries
		ref, err := users.RowOf(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(ctx, ref, u); err != nil {
			t.Fatal(err)
		}
	}
	alice, err := users.Row(str("u1"))
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := alice.FieldByName("sessions")
	if err != nil {
		t.Fatal(err)
	}
	missing, err := users.Row(str("nobody"))
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx *runtime.Tx) error {
		for _, c := range []struct {
			name string
			got  func() (int, error)
			want int
		}{
			{"all rows", func() (int, error) { return tx.CountRows(ctx, users, runtime.KeyRange{}) }, 5},
			{"rows [u1, u3)", func() (int, error) {
				return tx.CountRows(ctx, users, runtime.KeyRange{Lower: str("u1"), Upper: str("u3")})
			}, 2},
			{"rows [x, …)", func() (int, error) { return tx.CountRows(ctx, users, runtime.KeyRange{Lower: str("x")}) }, 0},
			{"all sessions", func() (int, error) { return tx.CountEntries(ctx, sessions, runtime.KeyRange{}) }, 3},
			{"sessions [s, …)", func() (int, error) { return tx.CountEntries(ctx, sessions, runtime.KeyRange{Lower: str("s")}) }, 2},
		} {
			landed = 0
			n, err := c.got()
			if err != nil || n != c.want {
				t.Errorf("%s: %d, %v; want %d", c.name, n, err, c.want)
			}
			if landed != n {
				t.Errorf("%s: landed on %d keys to count %d objects, want one each", c.name, landed, n)
			}
		}
		for _, c := range []struct {
			ref  runtime.Ref
			want bool
		}{{alice, true}, {sessions, true}, {missing, false}} {
			if ok, err := tx.Exists(ctx, c.ref); err != nil || ok != c.want {
				t.Errorf("Exists(%s) = %v, %v; want %v", c.ref, ok, err, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
