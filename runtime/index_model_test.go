package runtime_test

import (
	"testing"

	"github.com/protoql/protoql/internal/runtimetest"
	"github.com/protoql/protoql/kv/memkv"
)

// The index model test (runtimetest.IndexModel) on memkv and Pebble;
// kv/remotekv and kv/tikvkv run it on their engines.

func TestIndexModelMemkv(t *testing.T) {
	t.Parallel()
	steps := 300
	if testing.Short() {
		steps = 100
	}
	for seed := range uint64(6) {
		runtimetest.IndexModel(t, memkv.New(), seed, steps)
	}
}

func TestIndexModelPebble(t *testing.T) {
	t.Parallel()
	steps := 200
	if testing.Short() {
		steps = 80
	}
	for seed := range uint64(2) {
		runtimetest.IndexModel(t, openPebble(t), seed+100, steps)
	}
}
