package pebblekv_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// BenchmarkParallelPointRead reads single keys from many goroutines
// (b.RunParallel) of a store of 10,000 keys flushed to sstables, the way a
// viewless point query does: get is Store.Get; iter is a Store-level
// iterator bounded to the key (NewIter, SeekGE, Value, Close), which the
// store registers for Close while it is open. Run with -cpu and -count and
// compare the medians.
func BenchmarkParallelPointRead(b *testing.B) {
	ctx := context.Background()
	s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10_000
	key := func(i int) []byte { return fmt.Appendf(nil, "key%06d", i) }
	var batch kv.Batch
	for i := range n {
		if err := batch.Set(key(i), []byte("value")); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Apply(ctx, &batch); err != nil {
		b.Fatal(err)
	}
	if err := s.DB().Flush(); err != nil {
		b.Fatal(err)
	}
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for pb.Next() {
				if _, err := s.Get(ctx, key(r.IntN(n))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("iter", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 2))
			for pb.Next() {
				k := key(r.IntN(n))
				it, err := s.NewIter(ctx, kv.IterOptions{LowerBound: k, UpperBound: append(k, 0)})
				if err != nil {
					b.Error(err)
					return
				}
				if !it.SeekGE(k) || len(it.Value()) == 0 {
					b.Errorf("%s: not found: %v", k, it.Error())
				}
				if err := it.Close(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
