package kvtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/protoql/protoql/kv"
)

// testNoTornReads has writers rewrite a group of keys, always all to the
// same value, with Apply and with Update, while readers read the group in
// transactions (Get and scans), in Views and through Store-level
// iterators: every read must see one write whole.
func testNoTornReads(t *testing.T, s kv.Store) {
	const keys, writes = 8, 30
	key := func(i int) []byte { return []byte(fmt.Sprintf("torn\x00%d", i)) }
	lo, hi := []byte("torn\x00"), []byte("torn\x01")
	var b kv.Batch
	for i := range keys {
		_ = b.Set(key(i), b64(0))
	}
	if err := s.Apply(t.Context(), &b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	check := func(where string, r kv.Reader) error {
		var first uint64
		for i := range keys {
			v, err := r.Get(t.Context(), key(i))
			if err != nil {
				return err
			}
			if i == 0 {
				first = u64(v)
			} else if u64(v) != first {
				return fmt.Errorf("%s: torn read by Get: key 0 = %d, key %d = %d", where, first, i, u64(v))
			}
		}
		it, err := r.NewIter(t.Context(), kv.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return err
		}
		defer it.Close()
		n, ok := 0, it.First()
		want := u64(it.Value())
		for ; ok; ok = it.Next() {
			if got := u64(it.Value()); got != want {
				return fmt.Errorf("%s: torn read by a scan: %d then %d", where, want, got)
			}
			n++
		}
		if n != keys {
			return fmt.Errorf("%s: scan found %d keys, want %d (%v)", where, n, keys, it.Error())
		}
		return it.Error()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range writes {
				v := b64(uint64(w*writes + i + 1))
				var err error
				if w == 0 {
					var b kv.Batch
					for k := range keys {
						_ = b.Set(key(k), v)
					}
					err = s.Apply(t.Context(), &b)
				} else {
					err = s.Update(t.Context(), func(tx kv.Txn) error {
						for k := range keys {
							if err := tx.Set(key(k), v); err != nil {
								return err
							}
						}
						return nil
					})
				}
				if err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		})
	}
	// iterOnly reads the group twice with one store-level iterator, the
	// second time after seeking back to its first key: one iterator is one
	// point in time, whatever it is asked.
	iterOnly := func() error {
		it, err := s.NewIter(t.Context(), kv.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return err
		}
		defer it.Close()
		n, ok := 0, it.First()
		want := u64(it.Value())
		for pass := range 2 {
			for ; ok; ok = it.Next() {
				if got := u64(it.Value()); got != want {
					return fmt.Errorf("store iterator, pass %d: torn read: %d then %d", pass, want, got)
				}
				n++
			}
			if err := it.Error(); err != nil {
				return err
			}
			ok = it.SeekGE(key(0))
		}
		if n != 2*keys {
			return fmt.Errorf("store iterator found %d keys in two passes, want %d", n, 2*keys)
		}
		return nil
	}
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				var err error
				switch r {
				case 0:
					err = s.Update(t.Context(), func(tx kv.Txn) error { return check("Update", tx) })
				case 1:
					err = s.View(t.Context(), func(rd kv.Reader) error { return check("View", rd) })
				case 3:
					err = iterOnly()
				default:
					// A read-write transaction that reads the group and
					// writes elsewhere: it must see one state, and commit.
					err = s.Update(t.Context(), func(tx kv.Txn) error {
						if err := check("writing Update", tx); err != nil {
							return err
						}
						return tx.Set([]byte("torn-reader"), nil)
					})
				}
				if err != nil && !errors.Is(err, kv.ErrConflict) {
					t.Errorf("read: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
}

// testApplyConflict checks that blind writes (Apply: a Set, a DeleteRange)
// conflict with a transaction that read what they write, although they
// are never checked themselves.
func testApplyConflict(t *testing.T, s kv.Store) {
	key, cp := []byte("ap\x00k"), []byte("ap-copy")
	copyKey := func(tx kv.Txn, pause func() error) error {
		v, err := tx.Get(t.Context(), key)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		if err := pause(); err != nil {
			return err
		}
		return tx.Set(cp, append([]byte("="), v...))
	}
	for _, tc := range []struct {
		name string
		op   func(b *kv.Batch)
		want string
	}{
		{"set", func(b *kv.Batch) { _ = b.Set(key, []byte("new")) }, "=new"},
		{"delete range", func(b *kv.Batch) { _ = b.DeleteRange([]byte("ap\x00"), []byte("ap\x01")) }, "="},
	} {
		mustSet(t, s, key, []byte("old"))
		runs := interleaveFunc(t, s, copyKey, func() error {
			var b kv.Batch
			tc.op(&b)
			return s.Apply(t.Context(), &b)
		})
		v, err := s.Get(t.Context(), cp)
		if err != nil || string(v) != tc.want || runs < 2 {
			t.Errorf("Apply of a %s between a read and the commit: copy = %q, %v after %d attempts; want %q after at least 2", tc.name, v, err, runs, tc.want)
		}
	}
}
