package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"

	"time"

	"google.golang.org/protobuf/proto"
)

var benchGrowthCols = flag.String("bench.growthcols", "", "columns of BenchmarkGrowthReport, comma-separated (default: every growth column)")

// BenchmarkGrowthReport runs benchreport's growth section on the growth
// store of -bench.growth: for each size, in order, the store settled, then
// measureColumns with benchreport's defaults (each column calibrated to
// 200 ms, then 5 repetitions interleaved across the columns), so with the
// report's operation counts, the other columns' writes between
// repetitions (blob's rewrites of the whole map) and the heap they leave.
// -bench.growthcols keeps only some columns. It reports each column's
// median ns/op and allocs/op (metrics <column>-ns/op, <column>-allocs/op),
// and labels each column's operations for CPU profiles (pprof label
// "growth" = "<n>/<column>": go tool pprof -tagfocus growth=1000000/protoql).
// BenchmarkGrowthReport/wset then runs the report's growth curve at a fixed
// working set (runWorkingSet: W the largest size; every column, whatever
// -bench.growthcols says), which loads its users into the shared growth
// store: later benchmarks of the process see them.
// Run it once per process: -benchtime 1x.
func BenchmarkGrowthReport(b *testing.B) {
	sizes, e := growthEnv(b)
	var keep []string
	if *benchGrowthCols != "" {
		keep = strings.Split(*benchGrowthCols, ",")
	}
	r := &Report{Config: Config{Reps: 5, OpTime: 200 * time.Millisecond, Log: os.Stderr}}
	ctx := context.Background()
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				if err := e.Settle(); err != nil {
					b.Fatal(err)
				}
				var ops []namedOp
				counts := map[string]*int{}
				add := func(name string, op Op, written func() uint64) {
					if keep != nil && !slices.Contains(keep, name) {
						return
					}
					lctx := pprof.WithLabels(ctx, pprof.Labels("growth", fmt.Sprintf("%d/%s", n, name)))
					count := new(int)
					counts[name] = count
					ops = append(ops, namedOp{name, func(ctx context.Context, i int) error {
						pprof.SetGoroutineLabels(lctx)
						*count++
						return op(ctx, i)
					}, written, e.blockMisses, e.quiesce})
				}
				for _, c := range e.GrowthColumns() {
					add(c.Name, GrowthOp(c, n), func() uint64 { return e.written(c.Impl) })
				}
				res, err := r.measureOps(ctx, fmt.Sprintf("growth-%d", n), false, ops)
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range res {
					b.ReportMetric(c.Median.NsPerOp, c.Column+"-ns/op")
					b.ReportMetric(c.Median.AllocsPerOp, c.Column+"-allocs/op")
					b.ReportMetric(c.Median.CPUNsPerOp, c.Column+"-cpu-ns/op")
					b.ReportMetric(c.Median.GCNsPerOp, c.Column+"-gc-ns/op")
					b.ReportMetric(float64(c.Median.Ops), c.Column+"-ops/rep")
					b.ReportMetric(float64(*counts[c.Column]), c.Column+"-ops")
				}
			}
			pprof.SetGoroutineLabels(ctx)
		})
	}
	// The curve at a fixed working set, benchreport's next section, as it
	// runs it: its users loaded into the growth store after the curve, then
	// each size settled and measured (metrics <n>-<column>-ns/op, …).
	b.Run("wset", func(b *testing.B) {
		r.Config.GrowthSizes, r.WorkingSet = sizes, map[int][]Result{}
		for b.Loop() {
			if err := r.runWorkingSet(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		for _, n := range sizes {
			for _, c := range r.WorkingSet[n] {
				b.ReportMetric(c.Median.NsPerOp, fmt.Sprintf("%d-%s-ns/op", n, c.Column))
				b.ReportMetric(c.Median.AllocsPerOp, fmt.Sprintf("%d-%s-allocs/op", n, c.Column))
				b.ReportMetric(c.Median.CPUNsPerOp, fmt.Sprintf("%d-%s-cpu-ns/op", n, c.Column))
			}
		}
	})
}

// TestRawMergeSessionExpiry checks that raw Pebble's Merge of the growth
// curve's raw-merge column changes what protoql's entry setter changes:
// after it, protoql reads the entry with the new expires_us and every
// other field as it was, and after protoql's setter on the next one too,
// raw Pebble's Get and protoql's agree.
func TestRawMergeSessionExpiry(t *testing.T) {
	ctx := context.Background()
	e := loadTestEnv(t)
	const n = 10
	if err := e.LoadGrowth(ctx, []int{n}); err != nil {
		t.Fatal(err)
	}
	id := GrowthID(n)
	for j := range n {
		v := expiryMicros + int64(1000+j)
		var err error
		if j%2 == 0 {
			err = e.Raw.MergeSessionExpiry(ctx, id, SessionID(j), v)
		} else {
			err = e.Protoql.SetSessionExpiry(ctx, id, SessionID(j), v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, im := range []Impl{e.Protoql, e.Raw} {
		u, err := im.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for j := range n {
			want := NewSession(n, j)
			want.ExpiresUs = expiryMicros + int64(1000+j)
			if got := u.Sessions[SessionID(j)]; !proto.Equal(got, want) {
				t.Errorf("%s: session %d = %v, want %v", im.Name(), j, got, want)
			}
		}
	}
}

// TestRawMergeColumnApart checks that the growth curve's raw-merge column
// writes no key another column reads: after many of its merges the growth
// user is still exactly as loaded, in raw Pebble's store and protoql's.
func TestRawMergeColumnApart(t *testing.T) {
	ctx := context.Background()
	e := loadTestEnv(t)
	const n = 10
	if err := e.LoadGrowth(ctx, []int{n}); err != nil {
		t.Fatal(err)
	}
	for _, c := range e.GrowthColumns() {
		if c.Name != "raw-merge" {
			continue
		}
		op := GrowthOp(c, n)
		for i := range 200 {
			if err := op(ctx, i); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := NewUser(GrowthID(n), n, n)
	for _, im := range []Impl{e.Raw, e.Protoql} {
		got, err := im.Get(ctx, GrowthID(n))
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s: the growth user changed under raw-merge's merges:\n got %v\nwant %v", im.Name(), got, want)
		}
	}
}
