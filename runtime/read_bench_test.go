package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// BenchmarkReads measures the read workloads of the bench module at the
// runtime level, on unsynced Pebble, users of 10 sessions: the typed Get,
// the query of the first 10 sessions' expires_us, and a full scan of one
// inline field by query and by the projected typed scan
// (BenchmarkReads/<read>), the typed scan also on its generic path.
func BenchmarkReads(b *testing.B) {
	const rows = 2000
	ctx := context.Background()
	db := openDB(b, openPebble(b))
	users := must[testpb.UserTable](b)(testpb.NewUserTable(db))
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%05d", i)
		check(b, users.Put(ctx, userWithSessions(ids[i], 10)))
	}
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := users.Get(ctx, ids[i%rows]); err != nil {
				b.Fatal(err)
			}
		}
	})
	sessions := query.MustCompile(db.Catalog(), `User[$id] { sessions(first: 10) { expires_us } }`)
	vars := map[string]any{}
	b.Run("QuerySessions", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			vars["id"] = ids[i%rows]
			for _, err := range db.Query(ctx, sessions, vars) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	scan := query.MustCompile(db.Catalog(), `User { registered }`)
	b.Run("ScanQuery", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, err := range db.Query(ctx, scan, nil) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	})
	fields := runtime.ScanOptions{Fields: []string{"registered"}}
	// ScanFieldsGeneric is ScanFields on the generic path that the row
	// scan's fast paths replace (scanrow.go), ScanFieldsUnplanned without
	// the row plan (rowplan.go), for an A/B in one process.
	// ScanFieldsReuse is ScanFields with ScanOptions.Reuse.
	for _, path := range []string{"", "Reuse", "Unplanned", "Generic"} {
		b.Run("ScanFields"+path, func(b *testing.B) {
			runtime.SetGenericRowScanForTest(path == "Generic")
			runtime.SetUnplannedRowScanForTest(path == "Unplanned")
			defer runtime.SetGenericRowScanForTest(false)
			defer runtime.SetUnplannedRowScanForTest(false)
			opts := fields
			opts.Reuse = path == "Reuse"
			b.ReportAllocs()
			for b.Loop() {
				for _, err := range users.Scan(ctx, nil, opts) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
