package pebblekv_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/protoql/protoql/kv"
)

// TestCloseClosesOpenIterators opens many Store-level iterators from
// several goroutines (so that they land in every shard of the store's
// iterator set), closes half of them, and closes the store with the rest
// open and positioned: Close must succeed (Pebble refuses to close a
// database with an iterator open, so one left out of the set fails it),
// and every iterator left open must then be at no pair (Valid false, Key
// nil, without a positioning call first) and report kv.ErrClosed, never
// touching the closed database.
func TestCloseClosesOpenIterators(t *testing.T) {
	s := open(t)
	var b kv.Batch
	for i := range 10 {
		if err := b.Set(fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Apply(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 8, 40
	open := make([][]kv.Iterator, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := range perWorker {
				it, err := s.NewIter(t.Context(), kv.IterOptions{Reverse: j%3 == 0})
				if err != nil {
					t.Error(err)
					return
				}
				if !it.First() {
					t.Errorf("worker %d: First = false: %v", w, it.Error())
				}
				if j%2 == 0 {
					if err := it.Close(); err != nil {
						t.Errorf("worker %d: Close: %v", w, err)
					}
					continue
				}
				open[w] = append(open[w], it)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close with %d iterators open: %v", workers*perWorker/2, err)
	}
	for w, its := range open {
		for _, it := range its {
			// Positioned before Close, it is not after, and its key is
			// gone with the Pebble iterator that held it.
			if it.Valid() || it.Key() != nil {
				t.Fatalf("worker %d: an iterator left open is still at %q after Close", w, it.Key())
			}
			if it.SeekGE([]byte("k")) || it.Next() || it.Valid() {
				t.Fatalf("worker %d: an iterator left open is still positioned after Close", w)
			}
			if !errors.Is(it.Error(), kv.ErrClosed) {
				t.Fatalf("worker %d: Error after Close = %v, want kv.ErrClosed", w, it.Error())
			}
			if err := it.Close(); !errors.Is(err, kv.ErrClosed) {
				t.Fatalf("worker %d: iterator Close after store Close = %v, want kv.ErrClosed", w, err)
			}
		}
	}
}

// TestIteratorAfterItsScopeEnds leaves an iterator of a View and one of an
// Update positioned when their function returns: afterwards neither is at
// a pair (Valid false, Key nil, before any positioning call), since the
// scope's end closed the Pebble iterator its key pointed into, and both
// report kv.ErrClosed.
func TestIteratorAfterItsScopeEnds(t *testing.T) {
	s := open(t)
	defer s.Close()
	var b kv.Batch
	if err := b.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	var left []kv.Iterator
	keep := func(r kv.Reader) error {
		it, err := r.NewIter(t.Context(), kv.IterOptions{})
		if err != nil {
			return err
		}
		if !it.First() {
			t.Errorf("First = false: %v", it.Error())
		}
		left = append(left, it)
		return nil
	}
	if err := s.View(t.Context(), keep); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(t.Context(), func(tx kv.Txn) error { return keep(tx) }); err != nil {
		t.Fatal(err)
	}
	for n, it := range left {
		if it.Valid() || it.Key() != nil {
			t.Errorf("iterator %d is still at %q after its scope ended", n, it.Key())
		}
		if !errors.Is(it.Error(), kv.ErrClosed) {
			t.Errorf("iterator %d: Error = %v, want kv.ErrClosed", n, it.Error())
		}
	}
}
