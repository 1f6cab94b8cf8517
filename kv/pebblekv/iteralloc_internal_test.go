package pebblekv

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/kv"
)

// TestNewIterAllocs holds a Store-level iterator to one allocation of
// pebblekv's own, the adapter: its Pebble options stay on the stack when
// the reader is the DB itself (through the reader interface they escape,
// a second allocation on every point read). Pebble's iterator comes from
// its pool once warm.
func TestNewIterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	s, err := Open(t.TempDir(), WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := kv.NewBatch()
	if err := b.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	lo, hi := []byte("a"), []byte("z")
	var ferr error
	got := testing.AllocsPerRun(200, func() {
		it, err := s.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			ferr = err
			return
		}
		if !it.First() || string(it.Key()) != "k" {
			ferr = errNoKey(it.Error())
		}
		if err := it.Close(); err != nil {
			ferr = err
		}
	})
	if ferr != nil {
		t.Fatal(ferr)
	}
	if got > 1 {
		t.Errorf("NewIter, First, Close: %.1f allocations, want at most 1", got)
	}
}

func errNoKey(err error) error {
	if err != nil {
		return err
	}
	return errors.New("the iterator did not land on key k")
}
