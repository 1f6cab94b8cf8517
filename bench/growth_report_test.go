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

	"github.com/protoql/protoql/kv/fieldpatch"
	"google.golang.org/protobuf/encoding/protowire"
	"time"
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
					}, written, e.blockMisses})
				}
				for _, c := range e.GrowthColumns() {
					add(c.Name, GrowthOp(c, n), func() uint64 { return e.written(c.Impl) })
				}
				add("raw-merge", rawMergeOp(e, n), func() uint64 { return e.written(e.Raw) })
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
}

// rawMergeOp is the entry setter's Pebble write alone on raw Pebble: the
// Merge of the field patch protoql's setter writes (expires_us, field 1)
// into the entry's key, without pebblekv (no merge counts, no
// read-modify-write every 8th merge, no occ).
func rawMergeOp(e *Env, n int) Op {
	id := GrowthID(n)
	return func(_ context.Context, i int) error {
		var kb [96]byte
		var pb [32]byte
		var rb [16]byte
		key := sessionKey(rowKey(kb[:0], id), SessionID(int(mix(i)%uint64(n))))
		rec := protowire.AppendVarint(protowire.AppendTag(rb[:0], 1, protowire.VarintType), uint64(expiryMicros+int64(i)))
		patch, err := fieldpatch.Append(pb[:0], []int32{1}, rec)
		if err != nil {
			return err
		}
		return e.Raw.db.Merge(key, patch, e.Raw.wo)
	}
}
