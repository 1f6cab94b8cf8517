package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/query"
)

// Benchmark flags: the defaults keep go test -bench quick; the reported
// numbers come from cmd/benchreport.
var (
	benchUsers  = flag.Int("bench.users", 10_000, "users in the data set of BenchmarkWorkloads")
	benchGrowth = flag.String("bench.growth", "10,1000,100000,1000000", "map sizes of BenchmarkGrowth")
	benchSync   = flag.Bool("bench.sync", false, "fsync every commit, in every engine")
	benchCache  = flag.Int64("bench.cache", 64, "MiB of read cache of every store (EnvOptions.CacheBytes)")
)

// benchDir holds the environments the benchmarks share across -count
// runs; TestMain removes it.
var (
	benchDir  string
	benchEnvs = map[string]*Env{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	for _, e := range benchEnvs {
		_ = e.Close()
	}
	if benchIndexEnv != nil {
		_ = benchIndexEnv.Close()
	}
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// sharedEnv returns the environment named name, creating and loading it on
// first use.
func sharedEnv(b *testing.B, name string, load func(*Env) error) *Env {
	if e := benchEnvs[name]; e != nil {
		return e
	}
	if benchDir == "" {
		dir, err := os.MkdirTemp("", "protoql-bench-test-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
	}
	if *benchCache <= 0 {
		b.Fatal("-bench.cache must be positive")
	}
	e, err := OpenEnv(context.Background(), benchDir+"/"+name, EnvOptions{Sync: *benchSync, CacheBytes: *benchCache << 20})
	if err != nil {
		b.Fatal(err)
	}
	if err := load(e); err != nil {
		b.Fatal(err)
	}
	benchEnvs[name] = e
	return e
}

// benchOps holds, per benchmark (its full name: workload and column), the
// number of the next operation runOp runs. It goes on across runs of a
// benchmark, as the environments do: with -count > 1 (or a benchmark run
// again) the operations continue the sequence instead of repeating it, so
// that a later run of the insert workload inserts new users rather than
// replacing the ones the previous run inserted. Each column has its own
// sequence, starting at its own stretch (columnBase), as benchreport's
// columns do: the columns share one store, and a column running the
// operations another has just run would find their keys in the memtable
// and the block cache. (BenchmarkIndexes keeps its own count,
// benchIndexOp.)
var benchOps = map[string]int{}

// columnBases numbers the columns in the order they first run: column k
// (from 1) starts its operations at k × 10,000,000.
var columnBases = map[string]int{}

// columnBase returns the first operation of column name.
func columnBase(name string) int {
	base, ok := columnBases[name]
	if !ok {
		base = (len(columnBases) + 1) * 10_000_000
		columnBases[name] = base
	}
	return base
}

// runOp runs op b.N times and reports the CPU time, the engine's bytes
// written and Pebble's block cache misses per op.
func runOp(b *testing.B, e *Env, c Column, op Op) {
	ctx := context.Background()
	b.ReportAllocs()
	w0 := e.written(c.Impl)
	m0 := e.blockMisses()
	cpu0 := cpuTime()
	first, ok := benchOps[b.Name()]
	if !ok {
		first = columnBase(c.Name)
	}
	n := 0
	for b.Loop() {
		if err := op(ctx, first+n); err != nil {
			b.Fatal(err)
		}
		n++
	}
	benchOps[b.Name()] = first + n
	// CPU time per operation (the process's, every thread): on a shared
	// machine ns/op mostly measures waiting for a CPU.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(max(n, 1)), "cpu-ns/op")
	b.ReportMetric(float64(e.written(c.Impl)-w0)/float64(max(n, 1)), "written-B/op")
	// Pebble's block cache misses: at 1,000,000 users the apart layout's
	// user range is about as large as the block cache (see bench/README.md,
	// "Full scan"), and a scan's time moves with its misses.
	b.ReportMetric(float64(e.blockMisses()-m0)/float64(max(n, 1)), "blk-miss/op")
}

// warmedScans holds the scan benchmarks (full names) that have run their
// warm-up scan in this process.
var warmedScans = map[string]bool{}

// warmScan runs op once, untimed, the first time benchmark b runs in the
// process, as benchreport does before a scan's repetitions: the first
// scan after the load reads every block of the range from the files
// (Pebble's block cache is empty after the load, and the pages of the
// files are touched for the first time), so that without it the first
// column of a scan workload (and the first -count run of each) paid for
// what the others find in the caches.
func warmScan(b *testing.B, op Op) {
	if warmedScans[b.Name()] {
		return
	}
	warmedScans[b.Name()] = true
	if err := op(context.Background(), 0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWorkloads runs every workload on every column:
// BenchmarkWorkloads/<workload>/<column>.
func BenchmarkWorkloads(b *testing.B) {
	users := *benchUsers
	e := sharedEnv(b, fmt.Sprintf("main-%d", users), func(e *Env) error {
		return e.Load(context.Background(), users, func(i int) *socialpb.User { return NewUser(UserID(i), i, SessionsPerUser) })
	})
	for _, w := range Workloads {
		b.Run(w.Key, func(b *testing.B) {
			for _, c := range e.Columns() {
				if op := w.Op(c, users); op != nil {
					b.Run(c.Name, func(b *testing.B) {
						if w.Scan {
							warmScan(b, op)
						}
						runOp(b, e, c, op)
					})
				}
			}
		})
	}
}

// growthSizes returns the map sizes of -bench.growth.
func growthSizes(b *testing.B) []int {
	var sizes []int
	for _, f := range strings.Split(*benchGrowth, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-bench.growth: %q is not a positive size", f)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// growthEnv returns the map sizes of -bench.growth and the environment
// holding a growth user of each size (loaded once per process).
func growthEnv(b *testing.B) ([]int, *Env) {
	sizes := growthSizes(b)
	return sizes, sharedEnv(b, "growth-"+*benchGrowth, func(e *Env) error { return e.LoadGrowth(context.Background(), sizes) })
}

// BenchmarkGrowth updates one entry of a map of n entries:
// BenchmarkGrowth/<n>/<column>.
func BenchmarkGrowth(b *testing.B) {
	sizes, e := growthEnv(b)
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for _, c := range e.GrowthColumns() {
				b.Run(c.Name, func(b *testing.B) { runOp(b, e, c, GrowthOp(c, n)) })
			}
		})
	}
}

// BenchmarkGrowthWorkingSet is BenchmarkGrowth at a fixed working set
// (wset.go): with W the largest size of -bench.growth, the point of size n
// updates one entry of a random one of W/n maps of n entries, so that
// every point writes among the same W keys:
// BenchmarkGrowthWorkingSet/<n>/<column>. Its store is its own, not
// BenchmarkGrowth's: the working set of every size (the growth user of
// size W among them) loaded into protoql's store only, which is all its
// columns use, and settled once.
func BenchmarkGrowthWorkingSet(b *testing.B) {
	sizes := growthSizes(b)
	w := slices.Max(sizes)
	e := sharedEnv(b, "wset-"+*benchGrowth, func(e *Env) error {
		if err := e.LoadWorkingSet(w, sizes); err != nil {
			return err
		}
		return e.Settle()
	})
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for _, c := range e.WorkingSetColumns() {
				b.Run(c.Name, func(b *testing.B) { runOp(b, e, c, WorkingSetOp(c, w, n)) })
			}
		})
	}
}

// growthPairStretch is the number of updates of one column's stretch in
// BenchmarkGrowthPairs.
const growthPairStretch = 2000

// BenchmarkGrowthPairs measures protoql's entry setter against raw Pebble's
// read-modify-write of the entry (the raw column; the setter's own write
// was one until it merged: BenchmarkGrowthMergePairs pairs it with
// raw-merge), in one process and interleaved, which
// BenchmarkGrowth's columns (one after the other) are not: each iteration
// runs a stretch of growthPairStretch updates of each, in alternating
// order and on their own keys, and the benchmark reports the medians over
// the iterations of each one's CPU time per update (the process's) and of
// the pairs' differences (extra-cpu-ns/op), and Pebble's block-cache
// lookups per update of each. The extra is protoql's cost over raw's
// read-modify-write; on a shared machine it is steadier than the ratio of two columns' wall times
// measured apart. BenchmarkGrowthPairs/<n>, -benchtime 100x for 100 pairs.
func BenchmarkGrowthPairs(b *testing.B) {
	sizes, e := growthEnv(b)
	cols := []Column{{Name: "protoql", Impl: e.Protoql}, {Name: "raw", Impl: e.Raw}}
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			runPairs(b, e, [2]Op{GrowthOp(cols[0], n), GrowthOp(cols[1], n)}, pairNames)
		})
	}
}

// BenchmarkGrowthMergePairs is BenchmarkGrowthPairs with raw Pebble's
// blind Merge of the setter's patch (the raw-merge column) instead of
// raw's read-modify-write: the setter's own cost over Pebble's for the very
// same write, per map size (issue 16). Its raw stretches merge into
// GrowthMergeID(n)'s keys, as raw-merge does. BenchmarkGrowthMergePairs/<n>,
// -benchtime 100x for 100 pairs; its metrics name raw-merge "raw".
func BenchmarkGrowthMergePairs(b *testing.B) {
	sizes, e := growthEnv(b)
	cols := []Column{{Name: "protoql", Impl: e.Protoql}, {Name: "raw-merge", Impl: e.Raw, Variant: "merge"}}
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			runPairs(b, e, [2]Op{GrowthOp(cols[0], n), GrowthOp(cols[1], n)}, pairNames)
		})
	}
}

// BenchmarkWorkloadPairs is BenchmarkGrowthPairs for the point workloads
// of BenchmarkWorkloads (get, query, set-expiry, set-breakout, insert): protoql
// against raw Pebble, interleaved in stretches of growthPairStretch
// operations, each column on its own users (its own stretch of the
// operation sequence, so neither reads what the other has just brought
// into the block cache). BenchmarkWorkloadPairs/<workload>, -benchtime
// 100x for 100 pairs.
func BenchmarkWorkloadPairs(b *testing.B) {
	users := *benchUsers
	e := sharedEnv(b, fmt.Sprintf("main-%d", users), func(e *Env) error {
		return e.Load(context.Background(), users, func(i int) *socialpb.User { return NewUser(UserID(i), i, SessionsPerUser) })
	})
	cols := e.Columns()
	for _, w := range Workloads {
		if w.Scan {
			continue
		}
		b.Run(w.Key, func(b *testing.B) {
			runPairs(b, e, [2]Op{w.Op(cols[0], users), w.Op(cols[2], users)}, pairNames)
		})
	}
}

// BenchmarkBreakoutSplit splits BenchmarkWorkloadPairs/set-breakout's extra
// CPU between the store and the runtime, with the store's one-key write
// (pebblekv's SetKey, kv.KeySetter) of the key and value raw Pebble writes
// (rowKey, lastSeenKey, lastSeenValue) as the middle column, interleaved
// as runPairs does: BenchmarkBreakoutSplit/store runs it against raw
// Pebble's Set (pebblekv's share: the guard, occ's sequencing, the commit
// item; metrics pebblekv-… and raw-…), BenchmarkBreakoutSplit/runtime runs
// the generated Set against it (the runtime's share: the handle's keys, the
// checks, the value's encoding, the telemetry; metrics protoql-… and
// pebblekv-…). -benchtime 100x for 100 pairs.
func BenchmarkBreakoutSplit(b *testing.B) {
	users := *benchUsers
	e := sharedEnv(b, fmt.Sprintf("main-%d", users), func(e *Env) error {
		return e.Load(context.Background(), users, func(i int) *socialpb.User { return NewUser(UserID(i), i, SessionsPerUser) })
	})
	var breakout Workload
	for _, w := range Workloads {
		if w.Key == "set-breakout" {
			breakout = w
		}
	}
	if breakout.Op == nil {
		b.Fatal("no set-breakout workload")
	}
	cols := e.Columns()
	store := func(ctx context.Context, i int) error {
		var kb, vb [64]byte
		k := lastSeenKey(rowKey(kb[:0], UserID(int(mix(i)%uint64(users)))))
		return e.kv.SetKey(ctx, k, lastSeenValue(vb[:0], baseMicros+int64(i)))
	}
	b.Run("store", func(b *testing.B) {
		runPairs(b, e, [2]Op{store, breakout.Op(cols[2], users)}, [2]string{"pebblekv", "raw"})
	})
	b.Run("runtime", func(b *testing.B) {
		runPairs(b, e, [2]Op{breakout.Op(cols[0], users), store}, [2]string{"protoql", "pebblekv"})
	})
}

// pairNames names runPairs' columns protoql and raw.
var pairNames = [2]string{"protoql", "raw"}

// runPairs runs ops[0] and ops[1], named names[0] and names[1] (protoql
// and raw: pairNames), in alternating stretches of growthPairStretch
// operations, each from its own place in the operation sequence (named
// after b and the column, as runOp's), and reports the medians over the
// pairs of each one's CPU time per operation (the process's;
// <name>-cpu-ns/op), of the pairs' differences, ops[0]'s less ops[1]'s
// (extra-cpu-ns/op), and Pebble's block-cache lookups per operation of
// each (in e's main store: runPairsOn names the store).
func runPairs(b *testing.B, e *Env, ops [2]Op, names [2]string) {
	runPairsOn(b, e.kv, ops, names)
}

// runPairsOn is runPairs counting the block-cache lookups of store.
func runPairsOn(b *testing.B, store *pebblekv.Store, ops [2]Op, names [2]string) {
	ctx := context.Background()
	var next [2]int
	for j, name := range names {
		name = b.Name() + "/" + name
		next[j] = benchOps[name]
		if next[j] == 0 {
			next[j] = columnBase(name)
		}
		defer func() { benchOps[name] = next[j] }()
	}
	var cpu [2][]float64
	var lookups [2]float64
	var extra []float64
	pairs := 0
	for b.Loop() {
		var got [2]float64
		for k := range 2 {
			j := (k + pairs) % 2
			m0, c0 := store.Metrics().BlockCache, cpuTime()
			for i := range growthPairStretch {
				if err := ops[j](ctx, next[j]+i); err != nil {
					b.Fatal(err)
				}
			}
			got[j] = float64(cpuTime()-c0) / growthPairStretch
			m1 := store.Metrics().BlockCache
			lookups[j] += float64(m1.Hits + m1.Misses - m0.Hits - m0.Misses)
			next[j] += growthPairStretch
		}
		cpu[0], cpu[1] = append(cpu[0], got[0]), append(cpu[1], got[1])
		extra = append(extra, got[0]-got[1])
		pairs++
	}
	b.ReportMetric(medianOf(cpu[0]), names[0]+"-cpu-ns/op")
	b.ReportMetric(medianOf(cpu[1]), names[1]+"-cpu-ns/op")
	b.ReportMetric(medianOf(extra), "extra-cpu-ns/op")
	b.ReportMetric(lookups[0]/float64(max(pairs, 1)*growthPairStretch), names[0]+"-cache-lookups/op")
	b.ReportMetric(lookups[1]/float64(max(pairs, 1)*growthPairStretch), names[1]+"-cache-lookups/op")
}

// BenchmarkCompile compiles the DESIGN.md §5 examples.
func BenchmarkCompile(b *testing.B) {
	e := sharedEnv(b, "compile", func(*Env) error { return nil })
	cat := e.db.Catalog()
	for k, text := range CompileQueries {
		b.Run(strconv.Itoa(k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := query.Compile(cat, text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRunOpInsertsNewUsersEachRun runs the insert workload's benchmark body
// twice, as -count 2 does: each run must add as many users as it ran
// operations, not replace the users of the run before.
func TestRunOpInsertsNewUsersEachRun(t *testing.T) {
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	if err := bt.Value.Set("40x"); err != nil {
		t.Fatal(err)
	}
	defer bt.Value.Set(old) //nolint:errcheck // it held this value
	e := loadTestEnv(t)
	c := e.Columns()[0]
	ctx := context.Background()
	users := func() int {
		n := 0
		if err := c.Impl.ScanNames(ctx, func(string, string) { n++ }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	had := users()
	for run := range 2 {
		res := testing.Benchmark(func(b *testing.B) { runOp(b, e, c, insertOp(c, testUsers)) })
		if res.N == 0 {
			t.Fatalf("run %d: the benchmark failed", run)
		}
		if got := users(); got != had+res.N {
			t.Fatalf("run %d of %d inserts: %d users, want %d", run, res.N, got, had+res.N)
		}
		had += res.N
	}
}
