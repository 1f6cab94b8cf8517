package pebblekv_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// BenchmarkReplaceRow replaces a stored row of 11 keys as a Put does: one
// Apply of a DeleteRange of the row's key range (pebblekv lists the keys
// it holds and deletes them one by one) and a Set of each new key, on rows
// taken in turn from 10,000.
func BenchmarkReplaceRow(b *testing.B) {
	const rows, perRow = 10000, 11
	s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	row := func(i int) []byte { return fmt.Appendf(nil, "\x01user-%05d\x00", i) }
	val := []byte("\x08\x80\x80\x80\x80\x80\x80\x80\x80\x01\x12\x05phone")
	var batch kv.Batch
	write := func(i int, del bool) error {
		batch.Reset()
		r := row(i)
		if del {
			end := append(r[:len(r):len(r)], 0xff)
			batch.DeleteRange(r, end)
		}
		batch.Set(r, val)
		for j := 1; j < perRow; j++ {
			batch.Set(fmt.Appendf(append([]byte(nil), r...), "\x02s%07d\x00", j), val)
		}
		return s.Apply(ctx, &batch)
	}
	for i := range rows {
		if err := write(i, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	defer cpubench.Report(b)()
	for i := 0; b.Loop(); i++ {
		if err := write(i%rows, true); err != nil {
			b.Fatal(err)
		}
	}
}
