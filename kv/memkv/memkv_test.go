package memkv_test

import (
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []memkv.Option
	}{
		{"default", nil},
		// Degree 2 makes deep trees out of few keys, so that the random
		// sequence exercises node splits, merges and range deletions
		// across nodes.
		{"degree=2", []memkv.Option{memkv.WithDegree(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kvtest.Run(t, func(*testing.T) kv.Store { return memkv.New(tt.opts...) })
		})
	}
}

func BenchmarkStore(b *testing.B) {
	kvtest.RunBenchmarks(b, func(*testing.B) kv.Store { return memkv.New() })
}
