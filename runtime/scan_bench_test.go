package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

// BenchmarkProjectedScan scans 20,000 rows projecting one string field
// (ScanOptions.Fields), with and without Reuse, on memkv and on pebblekv
// (the rows in its memtable), reporting ns/row and cpu-ns/row (the
// process's CPU time: what A/B runs on a machine shared with other work
// compare best): the row plan's and the stepper's per-row cost with
// little of the store's on memkv, with Pebble's on pebblekv (bench/README.md
// "Findings", branches scan10 and scanR).
func BenchmarkProjectedScan(b *testing.B) {
	ctx := context.Background()
	engines := []struct {
		name string
		open func(b *testing.B) kv.Store
	}{
		{"memkv", func(*testing.B) kv.Store { return memkv.New() }},
		{"pebble", func(b *testing.B) kv.Store {
			store, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
			if err != nil {
				b.Fatal(err)
			}
			return store
		}},
	}
	for _, eng := range engines {
		b.Run(eng.name, func(b *testing.B) {
			store := eng.open(b)
			defer store.Close()
			db := openScalars(b, store)
			tbl := table(b, db, "Scalars")
			scalars := must[testpb.ScalarsTable](b)(testpb.NewScalarsTable(db))
			const rows = 20000
			for i := range rows {
				check(b, scalars.Put(ctx, &testpb.Scalars{Name: fmt.Sprintf("user%08d", i), S: fmt.Sprintf("Display Name %d", i), I64: int64(i)}))
			}
			for _, reuse := range []bool{false, true} {
				b.Run(fmt.Sprint("reuse=", reuse), func(b *testing.B) {
					b.ReportAllocs()
					cpu0 := cpubench.Now()
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
					if cpu := cpubench.Now() - cpu0; cpu > 0 {
						b.ReportMetric(float64(cpu)/float64(b.N*rows), "cpu-ns/row")
					}
				})
			}
		})
	}
}

// BenchmarkTypedProjectedScan scans 100,000 rows on unsynced Pebble with
// the typed table's Scan projecting one string field (the key column comes
// too), with and without Reuse, reporting ns/row: the default scan's
// per-row chain (a slab element per row, its conversion to the row's Go
// type) next to Reuse's, for A/B runs of the allocation (bench/README.md
// "Full scan").
func BenchmarkTypedProjectedScan(b *testing.B) {
	ctx := context.Background()
	db := openScalars(b, openPebble(b))
	scalars := must[testpb.ScalarsTable](b)(testpb.NewScalarsTable(db))
	const rows = 100000
	for i := range rows {
		check(b, scalars.Put(ctx, &testpb.Scalars{Name: fmt.Sprintf("user%08d", i), S: fmt.Sprintf("Display Name %d", i), I64: int64(i)}))
	}
	for _, reuse := range []bool{false, true} {
		b.Run(fmt.Sprint("reuse=", reuse), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				for m, err := range scalars.Scan(ctx, nil, runtime.ScanOptions{Fields: []string{"s"}, Reuse: reuse}) {
					if err != nil {
						b.Fatal(err)
					}
					if len(m.Name) != 12 {
						b.Fatal(m.Name)
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
