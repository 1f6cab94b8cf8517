package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/types/known/timestamppb"
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

// BenchmarkScanOwnPairs compares a forward row scan of inline fields on
// its own loop (scanOwn) with the general loop (the stepper and readOwn,
// SetSteppedRowScanForTest), interleaved in one process: each iteration
// scans the same rows on unsynced Pebble (flushed to sstables) with both,
// in alternating order, and the benchmark reports the medians over the
// iterations of each one's CPU time per row (the process's) and of their
// differences (own-minus-stepped-cpu-ns/row; negative: the own loop is
// cheaper). short: 50,000 typed Scalars rows of two keys (the row's own
// and a breakout, stepped over with Next, as the apart layout's users),
// projecting one string field, with and without Reuse; colocated: 20,000
// social Users with three sessions each below the row (sought past),
// projecting registered.
func BenchmarkScanOwnPairs(b *testing.B) {
	ctx := context.Background()
	type setup struct {
		rows int
		scan func(reuse bool) int
	}
	short := func(b *testing.B) setup {
		store := must[*pebblekv.Store](b)(pebblekv.Open(b.TempDir(), pebblekv.WithSync(false)))
		b.Cleanup(func() { store.Close() })
		db := openScalars(b, store)
		scalars := must[testpb.ScalarsTable](b)(testpb.NewScalarsTable(db))
		const rows = 50000
		for i := range rows {
			check(b, scalars.Put(ctx, &testpb.Scalars{Name: fmt.Sprintf("user%08d", i), S: fmt.Sprintf("Display Name %d", i), I64: int64(i), BreakoutLevel: testpb.Level_LEVEL_HIGH}))
		}
		settle(b, store)
		return setup{rows, func(reuse bool) int {
			n := 0
			for m, err := range scalars.Scan(ctx, nil, runtime.ScanOptions{Fields: []string{"s"}, Reuse: reuse}) {
				if err != nil || len(m.Name) != 12 {
					b.Fatal(err, m)
				}
				n++
			}
			return n
		}}
	}
	colocated := func(b *testing.B) setup {
		store := must[*pebblekv.Store](b)(pebblekv.Open(b.TempDir(), pebblekv.WithSync(false)))
		b.Cleanup(func() { store.Close() })
		db := openDB(b, store)
		users := must[testpb.UserTable](b)(testpb.NewUserTable(db))
		const rows = 20000
		for i := range rows {
			u := &testpb.User{UserId: fmt.Sprintf("user%08d", i), Registered: uint64(i), Sessions: map[string]*testpb.Session{}}
			for s := range 3 {
				u.Sessions[fmt.Sprint("s", s)] = &testpb.Session{ExpiresUs: int64(s)}
			}
			check(b, users.Put(ctx, u))
		}
		settle(b, store)
		return setup{rows, func(reuse bool) int {
			n := 0
			for m, err := range users.Scan(ctx, nil, runtime.ScanOptions{Fields: []string{"registered"}, Reuse: reuse}) {
				if err != nil || len(m.UserId) != 12 {
					b.Fatal(err, m)
				}
				n++
			}
			return n
		}}
	}
	for _, sc := range []struct {
		name string
		mk   func(*testing.B) setup
	}{{"short", short}, {"colocated", colocated}} {
		b.Run(sc.name, func(b *testing.B) {
			s := sc.mk(b)
			s.scan(false) // loads the blocks into the cache
			for _, reuse := range []bool{false, true} {
				b.Run(fmt.Sprint("reuse=", reuse), func(b *testing.B) {
					var own, stepped, diff []float64
					i := 0
					for b.Loop() {
						var cpu [2]float64 // own, stepped
						for k := range 2 {
							st := (i+k)%2 == 1
							runtime.SetSteppedRowScanForTest(st)
							c0 := cpubench.Now()
							if n := s.scan(reuse); n != s.rows {
								b.Fatal(n)
							}
							c := float64(cpubench.Now()-c0) / float64(s.rows)
							if st {
								cpu[1] = c
							} else {
								cpu[0] = c
							}
						}
						runtime.SetSteppedRowScanForTest(false)
						own, stepped, diff = append(own, cpu[0]), append(stepped, cpu[1]), append(diff, cpu[0]-cpu[1])
						i++
					}
					b.ReportMetric(median(own), "own-cpu-ns/row")
					b.ReportMetric(median(stepped), "stepped-cpu-ns/row")
					b.ReportMetric(median(diff), "own-minus-stepped-cpu-ns/row")
				})
			}
		})
	}
}

// median returns the median of xs (0 for none), sorting them.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// settle flushes store's memtable and compacts its keys, so that a
// benchmark's scans read sstables and no compaction runs during them.
func settle(b *testing.B, store *pebblekv.Store) {
	check(b, store.DB().Flush())
	check(b, store.DB().Compact(context.Background(), []byte{0}, []byte{0xff, 0xff}, false))
	goruntime.GC()
}

// BenchmarkRowPlanDecode decodes 10,000 ApartUser rows (a string key
// column; the projected registered, created and emails skipped) with
// their row plan, as a projected scan of the apart layout does, without
// the store: the row plan's per-row CPU (the key column's string, the
// skipped fields, the slab or Reuse's message) in ns/row, for A/B runs of
// the plan's code.
func BenchmarkRowPlanDecode(b *testing.B) {
	ctx := context.Background()
	store := memkv.New()
	db, tbl := openApart(b, store)
	const rows = 10000
	for i := range rows {
		u := &apartpb.ApartUser{UserId: fmt.Sprintf("user%08d", i), Registered: uint64(i) << 20, Emails: []string{fmt.Sprintf("u%d@example.com", i)}, Created: timestamppb.New(time.Unix(int64(i), 0))}
		check(b, db.Put(ctx, must[runtime.Ref](b)(tbl.RowOf(u)), u))
	}
	prefix := runtime.KeyPrefixForTest(tbl)
	var pairs [][2][]byte
	check(b, store.View(ctx, func(r kv.Reader) error {
		it, err := r.NewIter(ctx, kv.IterOptions{LowerBound: prefix})
		if err != nil {
			return err
		}
		for ok := it.First(); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
			pairs = append(pairs, [2][]byte{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
		}
		return it.Close()
	}))
	for _, reuse := range []bool{false, true} {
		b.Run(fmt.Sprint("reuse=", reuse), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, err := runtime.DecodeRowsForTest(tbl, []string{"registered"}, pairs, reuse)
				if err != nil || n != rows {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
