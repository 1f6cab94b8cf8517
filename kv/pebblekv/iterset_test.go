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
// and every iterator left open must then report kv.ErrClosed and never
// touch the closed database; the closed ones stay closed without error.
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
