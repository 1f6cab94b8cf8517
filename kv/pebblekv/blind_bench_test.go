package pebblekv_test

import (
	"context"
	"fmt"
	"slices"
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

// BenchmarkBlindSetPairs measures SetKey against Pebble's own Set on one
// store, interleaved: each iteration runs a stretch of blindPairStretch
// writes of each, in alternating order, and the benchmark reports the
// medians over the iterations of each one's CPU time per write (the
// process's) and of the pairs' differences (extra-cpu-ns/op): pebblekv's
// own cost of a blind write, steadier on a shared machine than the
// difference of BenchmarkBlindSet's columns, which run one after the
// other on databases of their own. -benchtime 100x for 100 pairs.
func BenchmarkBlindSetPairs(b *testing.B) {
	const keys = 10000
	ks := make([][]byte, keys)
	for i := range ks {
		ks[i] = fmt.Appendf(nil, "\x01user-%05d\x00\x02\x03", (i*7919)%keys)
	}
	val := []byte("\x18\x80\x80\x80\x80\x80\x80\x80\x80\x01")
	s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, db := context.Background(), s.DB()
	ops := [2]func(i int) error{
		func(i int) error { return s.SetKey(ctx, ks[i%keys], val) },
		func(i int) error { return db.Set(ks[(i+keys/2)%keys], val, pebble.NoSync) },
	}
	var cpu [2][]float64
	var extra []float64
	next, pairs := 0, 0
	for b.Loop() {
		var got [2]float64
		for k := range 2 {
			j := (k + pairs) % 2
			c0 := cpubench.Now()
			for i := range blindPairStretch {
				if err := ops[j](next + i); err != nil {
					b.Fatal(err)
				}
			}
			got[j] = float64(cpubench.Now()-c0) / blindPairStretch
		}
		next += blindPairStretch
		cpu[0], cpu[1] = append(cpu[0], got[0]), append(cpu[1], got[1])
		extra = append(extra, got[0]-got[1])
		pairs++
	}
	b.ReportMetric(median(cpu[0]), "setkey-cpu-ns/op")
	b.ReportMetric(median(cpu[1]), "pebble-cpu-ns/op")
	b.ReportMetric(median(extra), "extra-cpu-ns/op")
}

// blindPairStretch is the number of writes of each stretch of
// BenchmarkBlindSetPairs.
const blindPairStretch = 2000

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
