package pebblekv_test

import (
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/pebblekv"
)

// open opens a store in a fresh directory with a small cache, so that many
// can run in parallel, and a tiny memtable, so that the conformance suite
// also runs through flushes, sstables and compactions rather than only the
// memtable.
func open(tb testing.TB, opts ...pebblekv.Option) *pebblekv.Store {
	tb.Helper()
	opts = append([]pebblekv.Option{pebblekv.WithCacheSize(8 << 20), pebblekv.WithMemTableSize(32 << 10)}, opts...)
	s, err := pebblekv.Open(tb.TempDir(), opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []pebblekv.Option
	}{
		{"sync", nil},
		{"nosync", []pebblekv.Option{pebblekv.WithSync(false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kvtest.Run(t, func(t *testing.T) kv.Store { return open(t, tt.opts...) })
		})
	}
}

func BenchmarkStore(b *testing.B) {
	for _, sync := range []bool{true, false} {
		name := "sync"
		if !sync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			kvtest.RunBenchmarks(b, func(b *testing.B) kv.Store {
				// The default options: the benchmarks measure the engine as
				// shipped, not the test configuration.
				s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(sync))
				if err != nil {
					b.Fatalf("Open: %v", err)
				}
				return s
			})
		})
	}
}
