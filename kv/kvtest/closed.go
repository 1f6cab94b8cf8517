package kvtest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/protoql/protoql/kv"
)

func testCanceled(t *testing.T, s kv.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var b kv.Batch
	_ = b.Set([]byte("k"), []byte("v"))
	wantErr(t, "Apply(canceled)", s.Apply(ctx, &b), context.Canceled)
	ran := false
	err := s.Update(ctx, func(tx kv.Txn) error { ran = true; return tx.Set([]byte("k"), nil) })
	wantErr(t, "Update(canceled)", err, context.Canceled)
	err = s.View(ctx, func(kv.Reader) error { ran = true; return nil })
	wantErr(t, "View(canceled)", err, context.Canceled)
	if ran {
		t.Errorf("fn ran under a canceled context")
	}
	checkAll(t, s, newModel(), [][]byte{[]byte("k")})
}

// checkUnpositioned checks that it reports no position: Valid is false and
// Key and Value are nil.
func checkUnpositioned(t *testing.T, what string, it kv.Iterator) {
	t.Helper()
	if it.Valid() {
		t.Errorf("%s: Valid = true, want false", what)
	}
	if k := it.Key(); k != nil {
		t.Errorf("%s: Key = %q, want nil", what, k)
	}
	if v := it.Value(); v != nil {
		t.Errorf("%s: Value = %q, want nil", what, v)
	}
}

// checkEnded checks that a Txn, Reader or Iterator whose transaction has
// ended refuses every call with ErrClosed. The iterator was left at a key:
// it must no longer report it, before any further positioning call.
func checkEnded(t *testing.T, what string, r kv.Reader, it kv.Iterator) {
	t.Helper()
	checkUnpositioned(t, what+": iterator", it)
	wantErr(t, what+": iterator Error before any call", it.Error(), kv.ErrClosed)
	_, err := r.Get(t.Context(), []byte("k"))
	wantErr(t, what+": Get", err, kv.ErrClosed)
	it2, err := r.NewIter(t.Context(), kv.IterOptions{})
	if err == nil {
		it2.Close()
	}
	wantErr(t, what+": NewIter", err, kv.ErrClosed)
	if tx, ok := r.(kv.Txn); ok {
		wantErr(t, what+": Set", tx.Set([]byte("k2"), nil), kv.ErrClosed)
		wantErr(t, what+": Delete", tx.Delete([]byte("k")), kv.ErrClosed)
		wantErr(t, what+": DeleteRange", tx.DeleteRange([]byte("a"), []byte("z")), kv.ErrClosed)
	}
	if it.First() || it.Valid() {
		t.Errorf("%s: iterator: First = true after its transaction ended", what)
	}
	wantErr(t, what+": iterator Error", it.Error(), kv.ErrClosed)
	wantErr(t, what+": iterator Close", it.Close(), kv.ErrClosed)
}

// testTxnAfterEnd leaks a Txn, a Reader and their (unclosed) iterators out of
// Update and View and uses them afterwards.
func testTxnAfterEnd(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, [][]byte{[]byte("k")})
	var (
		tx              kv.Txn
		r               kv.Reader
		txIter, txIter2 kv.Iterator
		rIter, rIter2   kv.Iterator
	)
	// open returns an iterator of r positioned at its first key.
	open := func(r kv.Reader, reverse bool) (kv.Iterator, error) {
		it, err := r.NewIter(t.Context(), kv.IterOptions{Reverse: reverse})
		if err != nil {
			return nil, err
		}
		if !it.First() {
			t.Errorf("First = false, want a key (error %v)", it.Error())
		}
		return it, nil
	}
	err := s.Update(t.Context(), func(x kv.Txn) (err error) {
		tx = x
		if txIter, err = open(x, false); err != nil {
			return err
		}
		txIter2, err = open(x, true)
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	err = s.View(t.Context(), func(x kv.Reader) (err error) {
		r = x
		if rIter, err = open(x, true); err != nil {
			return err
		}
		rIter2, err = open(x, false)
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	// Close, as the first call after the end, reports it.
	wantErr(t, "Txn after Update: iterator Close", txIter2.Close(), kv.ErrClosed)
	wantErr(t, "Reader after View: iterator Close", rIter2.Close(), kv.ErrClosed)
	checkEnded(t, "Txn after Update", tx, txIter)
	checkEnded(t, "Reader after View", r, rIter)
	checkAll(t, s, m, [][]byte{[]byte("k"), []byte("k2")})
}

func testClosed(t *testing.T, s kv.Store) {
	mustSet(t, s, []byte("k"), []byte("v"))
	it, err := s.NewIter(t.Context(), kv.IterOptions{})
	if err != nil {
		t.Fatalf("NewIter: %v", err)
	}
	if !it.First() {
		t.Fatalf("First = false, want the key")
	}
	it2, err := s.NewIter(t.Context(), kv.IterOptions{Reverse: true})
	if err != nil {
		t.Fatalf("NewIter: %v", err)
	}
	if !it2.First() {
		t.Fatalf("reverse First = false, want the key")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var b kv.Batch
	_ = b.Set([]byte("k2"), nil)
	ran := false
	type call struct {
		name string
		call func() error
	}
	calls := []call{
		{"Get", func() error { _, err := s.Get(t.Context(), []byte("k")); return err }},
		{"NewIter", func() error {
			it, err := s.NewIter(t.Context(), kv.IterOptions{})
			if err == nil {
				it.Close()
			}
			return err
		}},
		{"Apply", func() error { return s.Apply(t.Context(), &b) }},
		{"Update", func() error { return s.Update(t.Context(), func(kv.Txn) error { ran = true; return nil }) }},
		{"View", func() error { return s.View(t.Context(), func(kv.Reader) error { ran = true; return nil }) }},
		{"Close", s.Close},
	}
	if ks, ok := s.(kv.KeySetter); ok {
		calls = append(calls,
			call{"SetKey", func() error { return ks.SetKey(t.Context(), []byte("k2"), nil) }},
			call{"DeleteKey", func() error { return ks.DeleteKey(t.Context(), []byte("k")) }})
	}
	for _, c := range calls {
		wantErr(t, c.name+" after Close", c.call(), kv.ErrClosed)
	}
	if ran {
		t.Errorf("fn ran on a closed store")
	}
	// An iterator left open across Close is closed with the store: it no
	// longer reports the key it was at, before any further call (Error
	// asked first, then the position).
	wantErr(t, "iterator Error after Close, before any call", it.Error(), kv.ErrClosed)
	checkUnpositioned(t, "iterator after the store closed", it)
	if it.First() || it.Next() || it.Valid() {
		t.Errorf("iterator still positioned after the store closed")
	}
	wantErr(t, "iterator Error after Close", it.Error(), kv.ErrClosed)
	wantErr(t, "iterator Close after store Close", it.Close(), kv.ErrClosed)
	// Close, as the first call after the store's, reports it.
	wantErr(t, "positioned iterator Close after store Close", it2.Close(), kv.ErrClosed)
}

// testCloseDuringUse closes the store while goroutines use it in every way:
// each call must succeed or fail with kv.ErrClosed, and nothing may crash.
func testCloseDuringUse(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	ops := []func(i int) error{
		func(int) error {
			_, err := s.Get(t.Context(), edgeKeys[0])
			return err
		},
		func(i int) error {
			var b kv.Batch
			_ = b.Set(edgeKeys[i%len(edgeKeys)], []byte("x"))
			return s.Apply(t.Context(), &b)
		},
		func(i int) error {
			return s.Update(t.Context(), func(tx kv.Txn) error {
				if _, err := tx.Get(t.Context(), edgeKeys[1]); err != nil {
					return err
				}
				return tx.Set(edgeKeys[i%len(edgeKeys)], []byte("y"))
			})
		},
		func(int) error {
			return s.View(t.Context(), func(r kv.Reader) error {
				it, err := r.NewIter(t.Context(), kv.IterOptions{})
				if err != nil {
					return err
				}
				for ok := it.First(); ok; ok = it.Next() {
				}
				return it.Close()
			})
		},
		func(int) error {
			it, err := s.NewIter(t.Context(), kv.IterOptions{Reverse: true})
			if err != nil {
				return err
			}
			for ok := it.First(); ok; ok = it.Next() {
				_ = it.Value()
			}
			err = it.Error()
			if cerr := it.Close(); err == nil && !errors.Is(cerr, kv.ErrClosed) {
				err = cerr
			}
			return err
		},
	}
	var wg sync.WaitGroup
	var started sync.WaitGroup
	for w, op := range ops {
		started.Add(1)
		wg.Go(func() {
			for i := 0; ; i++ {
				if i == 10 {
					started.Done()
				}
				err := op(i)
				if errors.Is(err, kv.ErrClosed) {
					if i < 10 {
						started.Done()
					}
					return
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
				}
			}
		})
	}
	started.Wait()
	if err := s.Close(); err != nil {
		t.Errorf("Close during use: %v", err)
	}
	wg.Wait()
}
