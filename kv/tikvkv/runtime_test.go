package tikvkv_test

import (
	"testing"

	"github.com/tikv/client-go/v2/tikv"

	"github.com/protoql/protoql/internal/runtimetest"
	"github.com/protoql/protoql/kv"
)

// runtimeSplits cut the keyspace of the runtime's model test: its User rows
// live under "\x10\x14" (table 1's tag, then the string user_id's tag), with
// ids drawn from bytes such as 'a', 0x00 and 0xFF.
var runtimeSplits = [][]byte{
	{0x01},
	{0x10, 0x14},
	{0x10, 0x14, 'a'},
	{0x10, 0x14, 'a', 0x00, 0xFF},
	{0x10, 0x14, 'b'},
	{0x10, 0x14, 0xFF},
	{0x10, 0x14, 0xFF, 0x00, 0x00, 0x80},
}

// TestRuntimeModel runs the runtime's model-based test (random puts, field
// sets, map edits and deletes checked against in-memory messages) on a
// multi-region mock cluster.
func TestRuntimeModel(t *testing.T) {
	t.Parallel()
	steps := 300
	if testing.Short() {
		steps = 100
	}
	for seed := range uint64(2) {
		kvs, _ := newMockKVStore(t, runtimeSplits)
		s := newStore(t, kvs)
		runtimetest.Model(t, s, seed, steps)
		if n := regionsHolding(t, kvs, s); n < 3 {
			t.Errorf("seed %d: the model's keys sit in %d regions; update runtimeSplits to the runtime's key layout", seed, n)
		}
	}
}

// regionsHolding returns how many regions hold the keys of s.
func regionsHolding(t *testing.T, kvs *tikv.KVStore, s kv.Store) int {
	t.Helper()
	it, err := s.NewIter(t.Context(), kv.IterOptions{})
	if err != nil {
		t.Fatalf("NewIter: %v", err)
	}
	defer it.Close()
	regions := map[uint64]bool{}
	for ok := it.First(); ok; ok = it.Next() {
		loc, err := kvs.GetRegionCache().LocateKey(tikv.NewBackofferWithVars(t.Context(), 1000, nil), it.Key())
		if err != nil {
			t.Fatalf("LocateKey(%q): %v", it.Key(), err)
		}
		regions[loc.Region.GetID()] = true
	}
	if err := it.Error(); err != nil {
		t.Fatalf("iterator: %v", err)
	}
	return len(regions)
}

// TestIndexModel runs the runtime's index model test (random writes of
// every kind; after each, the stored index entries must be exactly those of
// the model) on a mock cluster whose regions separate the table index
// entries from the rows, and a row's map-scoped index entries from its map.
func TestIndexModel(t *testing.T) {
	t.Parallel()
	steps := 120
	if testing.Short() {
		steps = 40
	}
	for seed := range uint64(2) {
		kvs, _ := newMockKVStore(t, runtimetest.IndexSplits())
		s := newStore(t, kvs)
		runtimetest.IndexModel(t, s, seed+200, steps)
		if n := regionsHolding(t, kvs, s); n < 5 {
			t.Errorf("seed %d: the index model's keys sit in %d regions; update runtimetest.IndexSplits to the key layout", seed, n)
		}
	}
}
