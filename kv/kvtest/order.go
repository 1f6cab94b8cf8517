package kvtest

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/kv"
)

// testCommitOrder checks that the engine's state follows the commit order
// when blind writes and read-modify-writes of the same keys commit
// concurrently. Applies blindly set A and B to a fresh value (every other
// one through a DeleteRange of both first); Updates copy A into B and
// increment a counter; readers check A == B in Views and read-only Updates
// while they run. An engine that committed a later commit's writes before an
// earlier one's (an Update that read A before an Apply, applied after it)
// would leave B behind A, show a snapshot with A != B, or lose an
// increment.
func testCommitOrder(t *testing.T, s kv.Store) {
	rounds := 150
	if raceEnabled {
		rounds = 60
	}
	const writers = 4
	a, b, n := []byte("ord\x00a"), []byte("ord\x00b"), []byte("ord\x01n")
	lo, hi := []byte("ord\x00"), []byte("ord\x01")
	var acked atomic.Uint64
	var writing sync.WaitGroup
	stop := make(chan struct{})
	for g := range writers {
		writing.Go(func() { // blind writers
			for i := range rounds {
				var batch kv.Batch
				if i%2 == 0 {
					_ = batch.DeleteRange(lo, hi)
				}
				v := b64(uint64(g*rounds + i + 1))
				_ = batch.Set(a, v)
				_ = batch.Set(b, v)
				if err := s.Apply(t.Context(), &batch); err != nil {
					t.Errorf("Apply: %v", err)
					return
				}
			}
		})
		writing.Go(func() { // read-modify-writers
			for range rounds {
				err := s.Update(t.Context(), func(tx kv.Txn) error {
					v, err := tx.Get(t.Context(), a)
					if errors.Is(err, kv.ErrNotFound) {
						v = nil
					} else if err != nil {
						return err
					}
					runtime.Gosched() // widen the window
					if v != nil {
						if err := tx.Set(b, v); err != nil {
							return err
						}
					}
					c, err := tx.Get(t.Context(), n)
					if err != nil && !errors.Is(err, kv.ErrNotFound) {
						return err
					}
					return tx.Set(n, b64(u64(c)+1))
				})
				switch {
				case err == nil:
					acked.Add(1)
				case errors.Is(err, kv.ErrConflict):
					// Retries ran out: allowed, but then nothing counts.
				default:
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	check := func(r kv.Reader, where string) bool {
		va, errA := r.Get(t.Context(), a)
		vb, errB := r.Get(t.Context(), b)
		if errors.Is(errA, kv.ErrNotFound) && errors.Is(errB, kv.ErrNotFound) {
			return true
		}
		if errA != nil || errB != nil || string(va) != string(vb) {
			t.Errorf("%s: A = %x (%v), B = %x (%v); want equal", where, va, errA, vb, errB)
			return false
		}
		return true
	}
	var reading sync.WaitGroup
	for g := range 2 {
		reading.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var ok bool
				var err error
				if g == 0 {
					err = s.View(t.Context(), func(r kv.Reader) error { ok = check(r, "View"); return nil })
				} else {
					err = s.Update(t.Context(), func(tx kv.Txn) error { ok = check(tx, "read-only Update"); return nil })
				}
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if !ok {
					return
				}
			}
		})
	}
	writing.Wait()
	close(stop)
	reading.Wait()
	if err := s.View(t.Context(), func(r kv.Reader) error { check(r, "at the end"); return nil }); err != nil {
		t.Fatalf("View: %v", err)
	}
	c, err := s.Get(t.Context(), n)
	if err != nil {
		t.Fatalf("Get counter: %v", err)
	}
	if got, want := u64(c), acked.Load(); got != want || want == 0 {
		t.Errorf("counter = %d, want %d (the acknowledged Updates)", got, want)
	}
}
