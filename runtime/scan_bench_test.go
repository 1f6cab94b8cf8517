package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// BenchmarkProjectedScan scans 20,000 rows on memkv projecting one
// string field (ScanOptions.Fields), with and without Reuse, reporting
// ns/row: the row plan's per-row cost with little of the store's, for
// A/B runs of the decode (bench/README.md "Findings", branch scan10).
func BenchmarkProjectedScan(b *testing.B) {
	ctx := context.Background()
	db := openScalars(b, memkv.New())
	tbl := table(b, db, "Scalars")
	scalars := must[testpb.ScalarsTable](b)(testpb.NewScalarsTable(db))
	const rows = 20000
	for i := range rows {
		check(b, scalars.Put(ctx, &testpb.Scalars{Name: fmt.Sprintf("user%08d", i), S: fmt.Sprintf("Display Name %d", i), I64: int64(i)}))
	}
	for _, reuse := range []bool{false, true} {
		b.Run(fmt.Sprint("reuse=", reuse), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				for _, err := range db.Scan(ctx, tbl, runtime.KeyRange{}, runtime.ScanOptions{Fields: []string{"s"}, Reuse: reuse}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != rows {
					b.Fatal(n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
