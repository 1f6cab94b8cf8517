package pebblekv

import (
	"testing"

	"github.com/protoql/protoql/kv"
)

// TestIterSetHoldsOpenIterators checks that the store's iterator set holds
// exactly the Store-level iterators that are open: a closed one is removed
// (else the set would grow with every point query, and Close would close
// a Pebble iterator twice), and the open ones are spread over the shards.
func TestIterSetHoldsOpenIterators(t *testing.T) {
	s, err := Open(t.TempDir(), WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := func() (n, shards int) {
		for k := range s.iters.shards {
			sh := &s.iters.shards[k]
			sh.mu.Lock()
			m := len(sh.slots) - len(sh.free)
			n += m
			if m > 0 {
				shards++
			}
			sh.mu.Unlock()
		}
		return n, shards
	}
	var open []kv.Iterator
	for j := range 200 {
		it, err := s.NewIter(t.Context(), kv.IterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if j%2 == 0 {
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		open = append(open, it)
	}
	if n, shards := count(); n != len(open) || shards < 2 {
		t.Fatalf("the set holds %d iterators in %d shards, want the %d open ones in more than one shard", n, shards, len(open))
	}
	for _, it := range open {
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := count(); n != 0 {
		t.Fatalf("the set holds %d iterators after every one was closed", n)
	}
}
