package kvtest

import (
	"encoding/binary"
	"testing"

	"github.com/protoql/protoql/kv"
)

// Benchmark shape: benchKeys keys of the form "bench\x00" + 4-byte
// big-endian index, with benchValueSize-byte values.
const (
	benchKeys      = 10000
	benchValueSize = 100
)

func benchKey(buf []byte, i int) []byte {
	return binary.BigEndian.AppendUint32(append(buf[:0], "bench\x00"...), uint32(i))
}

// RunBenchmarks runs the same benchmarks on every engine: Get of a present
// key, Set through a one-operation Apply (serially, and from 8 goroutines per
// CPU, which shows whether concurrent commits share their fsyncs), a
// read-modify-write Update, and a 100-key forward scan. open must return a new, empty store; the benchmark closes
// it.
func RunBenchmarks(b *testing.B, open func(b *testing.B) kv.Store) {
	b.Run("Get", func(b *testing.B) {
		s := benchStore(b, open)
		var key []byte
		i := 0
		for b.Loop() {
			key = benchKey(key, i*7919%benchKeys)
			if _, err := s.Get(b.Context(), key); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Set", func(b *testing.B) {
		s := benchStore(b, open)
		var batch kv.Batch
		var key []byte
		value := make([]byte, benchValueSize)
		i := 0
		for b.Loop() {
			batch.Reset()
			_ = batch.Set(benchKey(key, i*7919%benchKeys), value)
			if err := s.Apply(b.Context(), &batch); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("SetParallel", func(b *testing.B) {
		s := benchStore(b, open)
		b.SetParallelism(8) // writers waiting on I/O, as in a server
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var batch kv.Batch
			var key []byte
			value := make([]byte, benchValueSize)
			i := 0
			for pb.Next() {
				batch.Reset()
				_ = batch.Set(benchKey(key, i*7919%benchKeys), value)
				if err := s.Apply(b.Context(), &batch); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("Update", func(b *testing.B) {
		s := benchStore(b, open)
		var key []byte
		i := 0
		for b.Loop() {
			key = benchKey(key, i*7919%benchKeys)
			err := s.Update(b.Context(), func(tx kv.Txn) error {
				v, err := tx.Get(b.Context(), key)
				if err != nil {
					return err
				}
				v[0]++
				return tx.Set(key, v)
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Scan100", func(b *testing.B) {
		s := benchStore(b, open)
		var lo, hi []byte
		i := 0
		for b.Loop() {
			start := i * 7919 % (benchKeys - 100)
			lo, hi = benchKey(lo, start), benchKey(hi, start+100)
			it, err := s.NewIter(b.Context(), kv.IterOptions{LowerBound: lo, UpperBound: hi})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for ok := it.First(); ok; ok = it.Next() {
				_ = it.Value()
				n++
			}
			if err := it.Close(); err != nil || n != 100 {
				b.Fatalf("scan: %d keys, %v", n, err)
			}
			i++
		}
	})
}

// benchStore opens a store holding benchKeys keys and closes it when b ends.
func benchStore(b *testing.B, open func(b *testing.B) kv.Store) kv.Store {
	b.Helper()
	s := open(b)
	b.Cleanup(func() { _ = s.Close() })
	var batch kv.Batch
	var key []byte
	value := make([]byte, benchValueSize)
	for i := range benchKeys {
		_ = batch.Set(benchKey(key, i), value)
		if batch.Len() == 1000 {
			if err := s.Apply(b.Context(), &batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	return s
}
