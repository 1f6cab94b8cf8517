package pebblekv_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// BenchmarkBlindSet compares a one-key Apply (kv.Batch, occ's sequencing,
// a Pebble batch) and SetKey (kv.KeySetter: the same without the
// kv.Batch) with Pebble's own Set of the same keys, each on a fresh
// database, so that neither runs on a memtable the other filled: the
// difference is pebblekv's cost of a blind write.
func BenchmarkBlindSet(b *testing.B) {
	const keys = 10000
	ks := make([][]byte, keys)
	for i := range ks {
		ks[i] = fmt.Appendf(nil, "\x01user-%05d\x00\x02\x03", i)
	}
	val := []byte("\x18\x80\x80\x80\x80\x80\x80\x80\x80\x01")
	open := func(b *testing.B) *pebblekv.Store {
		s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	b.Run("pebblekv", func(b *testing.B) {
		s, ctx := open(b), context.Background()
		var batch kv.Batch
		b.ReportAllocs()
		defer cpubench.Report(b)()
		for i := 0; b.Loop(); i++ {
			batch.Reset()
			batch.Set(ks[i%keys], val)
			if err := s.Apply(ctx, &batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("setkey", func(b *testing.B) {
		s, ctx := open(b), context.Background()
		b.ReportAllocs()
		defer cpubench.Report(b)()
		for i := 0; b.Loop(); i++ {
			if err := s.SetKey(ctx, ks[i%keys], val); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pebble", func(b *testing.B) {
		db := open(b).DB()
		b.ReportAllocs()
		defer cpubench.Report(b)()
		for i := 0; b.Loop(); i++ {
			if err := db.Set(ks[i%keys], val, pebble.NoSync); err != nil {
				b.Fatal(err)
			}
		}
	})
}
