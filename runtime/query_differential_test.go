package runtime_test

import (
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// TestQueryDifferential runs random queries on random data through the
// executor and through querytest's model, and requires the same results;
// each query is also run page by page (first: 1, after: the last cursor)
// and under random limits, resuming after each LimitError, and must
// return the same sequence. One seed in eight runs on Pebble.
func TestQueryDifferential(t *testing.T) {
	open := func(t testing.TB, s kv.Store) *runtime.DB { return openDB(t, s) }
	querytest.Differential(t, 40, memOrPebble(8), open, querytest.RandomData, nil)
}

// TestIndexQueryDifferential runs random queries through indexes, on
// random data, through the executor and through querytest's model (which
// filters and sorts the model's rows and entries naively), and requires
// the same results, unpaged, page by page and under random limits. One
// seed in four runs on Pebble.
func TestIndexQueryDifferential(t *testing.T) {
	querytest.IndexDifferential(t, 16, memOrPebble(4))
}

// memOrPebble returns stores for the differential tests: Pebble for every
// every-th seed (from 0), memkv for the others.
func memOrPebble(every uint64) func(testing.TB, uint64) kv.Store {
	return func(t testing.TB, seed uint64) kv.Store {
		if seed%every == 0 {
			return openPebble(t)
		}
		return memkv.New()
	}
}
