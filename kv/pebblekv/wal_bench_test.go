package pebblekv

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
)

// BenchmarkWALTailCheck measures what Open adds to read the newest WAL
// (checkWALTail) when it holds about 12 MiB of writes.
func BenchmarkWALTailCheck(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, WithSync(false), WithMemTableSize(64<<20))
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 1000)
	for i := range 12 << 10 {
		batch := kv.NewBatch()
		_ = batch.Set(fmt.Appendf(nil, "k%08d", i), val)
		if err := s.Apply(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	// Leave the WAL as it is: Close would flush nothing away (the
	// memtable is not flushed at Close), so the newest WAL keeps it all.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	po := &pebble.Options{}
	b.SetBytes(12 << 20)
	b.ResetTimer()
	for b.Loop() {
		if err := checkWALTail(po, dir, WALStrict, pebble.DefaultLogger); err != nil {
			b.Fatal(err)
		}
	}
}
