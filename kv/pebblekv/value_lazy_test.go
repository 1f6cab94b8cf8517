package pebblekv_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// TestValueKeptApart checks the iterator's other way to a value: one
// Pebble does not hold in place (an older version of a key, which a
// flushed table keeps in a value block, read by a transaction whose
// snapshot is older than the new version) is fetched when the iterator
// lands on it, and is the value the snapshot must see. The test requires that Pebble keeps some
// of the values it reads apart (a Pebble iterator on the same state finds
// them), so that it tests the fetch, not the in-place values.
func TestValueKeptApart(t *testing.T) {
	ctx := context.Background()
	s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 50
	key := func(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }
	val := func(gen, i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "%d-%03d;", gen, i), 8) }
	write := func(gen int) error {
		var b kv.Batch
		for i := range n {
			_ = b.Set(key(i), val(gen, i))
		}
		return s.Apply(ctx, &b)
	}
	if err := write(1); err != nil {
		t.Fatal(err)
	}
	attempts, lazy := 0, 0
	err = s.Update(ctx, func(tx kv.Txn) error {
		attempts++
		gen := 2
		if attempts == 1 {
			// A newer version of every key, flushed with the
			// snapshot's: the table keeps the snapshot's versions in
			// a value block. (The transaction then conflicts, and its
			// second attempt reads the new versions.)
			gen = 1
			snap := s.DB().NewSnapshot() // the transaction's state
			defer snap.Close()
			if err := write(2); err != nil {
				return err
			}
			if err := s.DB().Flush(); err != nil {
				return err
			}
			// Pebble's own iterator on that state finds the values
			// kept apart, which the transaction's iterator must fetch.
			pit, err := snap.NewIter(nil)
			if err != nil {
				return err
			}
			for ok := pit.First(); ok; ok = pit.Next() {
				if pit.LazyValue().Fetcher != nil {
					lazy++
				}
			}
			if err := pit.Close(); err != nil {
				return err
			}
		}
		it, err := tx.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		defer it.Close()
		i := 0
		for ok := it.First(); ok; ok = it.Next() {
			if !bytes.Equal(it.Key(), key(i)) || !bytes.Equal(it.Value(), val(gen, i)) {
				t.Errorf("attempt %d, pair %d: %q = %q, want %q = %q", attempts, i, it.Key(), it.Value(), key(i), val(gen, i))
			}
			i++
		}
		if i != n {
			t.Errorf("attempt %d read %d pairs, want %d", attempts, i, n)
		}
		return it.Error()
	})
	if err != nil {
		t.Fatal(err)
	}
	if lazy == 0 {
		t.Fatalf("Pebble holds every value in place (%d attempts): the test does not reach the fetch", attempts)
	}
}
