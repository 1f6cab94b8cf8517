package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/query"
)

// Config configures Run.
type Config struct {
	// Dir holds the stores; empty: a temporary directory, removed after.
	Dir string
	// Users is the size of the data set (each with SessionsPerUser
	// sessions). The reported run uses 1,000,000.
	Users int
	// Reps is the number of repetitions of every measurement but the
	// scans; medians are reported. 0 means 1.
	Reps int
	// ScanReps and ScanApartReps are the number of repetitions of the
	// colocated scan (workload scan) and of the apart scan (scan-apart),
	// each repetition one full scan per column; 0 means Reps. A scan's
	// median of a few single scans is noisier than a median of
	// repetitions of thousands of operations, and the apart scan, ≈ 0.3 s
	// a column, is cheap to repeat (DefaultScanReps, DefaultScanApartReps).
	ScanReps, ScanApartReps int
	// OpTime is the duration of one repetition of a workload other than a
	// scan (a scan repetition is one full scan).
	OpTime time.Duration
	// Rounds is the number of stretches a repetition of a main, index or
	// growth workload other than a scan is split into (the concurrency,
	// hot-entry and compile measurements run theirs in one): the columns
	// take turns, each running one stretch of its repetition's operations
	// per round, so that a change in the machine's load or state during a
	// repetition (another process, the page cache, the Go heap) reaches
	// every column alike instead of the one or two whose turn it was. 0
	// means DefaultRounds; 1 runs each column's repetition in one stretch.
	Rounds int
	// GrowthSizes are the map sizes of the growth curve.
	GrowthSizes []int
	// WorkingSet runs the growth curve at a fixed working set (wset.go) on
	// the growth sizes, with W the largest of them, in the growth store
	// after the growth curve.
	WorkingSet bool
	// Sync runs every engine with synced commits (see the package doc).
	Sync bool
	// Conc runs the concurrency workloads (ConcWorkloads).
	Conc bool
	// ConcRows is the number of rows of each column's concurrent writers
	// (rounded down to a multiple of 16); 0 means DefaultConcRows.
	ConcRows int
	// Main runs the main workloads, the concurrency section and the query
	// compilations (false: skips them and the loading of Users users).
	Main bool
	// IndexRows is the number of rows of each table of the Indexes
	// section; 0 skips the section.
	IndexRows int
	// CacheBytes is every store's read cache (EnvOptions.CacheBytes); 0
	// means the default, 64 MiB.
	CacheBytes int64
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Result is the measurement of one workload on one column.
type Result struct {
	Workload string
	Column   string
	Samples  []Sample
	Median   Sample
}

// Report is everything one Run measured.
type Report struct {
	Config  Config
	LoadDur time.Duration
	Results []Result // Workloads × columns
	Compile []Result // Workload is the query text
	Growth  map[int][]Result
	Conc    []ConcResult // ConcWorkloads × goroutine counts × columns
	Index   []Result     // IndexWorkloads × index columns
	CPUs    int          // runtime.NumCPU during the run
	Hot     []HotResult
	Load    LoadStats
	Elapsed time.Duration

	// WorkingSet is the growth curve at a fixed working set of
	// WorkingSetKeys keys, per map size (workloads wset-<n>).
	WorkingSet     map[int][]Result
	WorkingSetKeys int
}

// CompileQueries are the examples of DESIGN.md §5 on the social example's
// schema (Thread has a title, not a body).
var CompileQueries = []string{
	`User["alice"] { registered, sessions { expires_us } }`,
	`User["a".."m"](first: 10) { user_id }`,
	`User[$id] { sessions["s1".."s5"](reverse: true) { expires_us } }`,
	`User["alice"] { threads { thread { title } } }`,
}

// Run loads the data set, runs every workload, the query compilations and
// the growth curve, and returns the measurements.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Reps < 1 {
		cfg.Reps = 1
	}
	if cfg.Rounds < 1 {
		cfg.Rounds = DefaultRounds
	}
	cfg.ScanReps, cfg.ScanApartReps = cfg.repsOf("scan", true), cfg.repsOf("scan-apart", true)
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "protoql-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	start := time.Now()
	load := startLoadSampler()
	r := &Report{Config: cfg, Growth: map[int][]Result{}, WorkingSet: map[int][]Result{}, CPUs: goruntime.NumCPU()}
	if cfg.Main {
		if err := r.runMain(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.runIndexes(ctx); err != nil {
		return nil, err
	}
	if err := r.runGrowth(ctx); err != nil {
		return nil, err
	}
	r.Load = load.stop()
	r.Elapsed = time.Since(start)
	return r, nil
}

func (r *Report) logf(format string, args ...any) {
	fmt.Fprintf(r.Config.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (r *Report) runMain(ctx context.Context) error {
	cfg := r.Config
	env, err := OpenEnv(ctx, filepath.Join(cfg.Dir, "main"), EnvOptions{Sync: cfg.Sync, CacheBytes: cfg.CacheBytes})
	if err != nil {
		return err
	}
	defer env.Close()
	r.logf("loading %d users with %d sessions each into every store", cfg.Users, SessionsPerUser)
	t := time.Now()
	gen := func(i int) *socialpb.User { return NewUser(UserID(i), i, SessionsPerUser) }
	if err := env.LoadPebble(cfg.Users, gen); err != nil {
		return err
	}
	r.logf("pebble stores loaded in %v", time.Since(t).Round(time.Millisecond))
	if err := env.SQLite.Load(ctx, cfg.Users, 2000, gen); err != nil {
		return err
	}
	r.logf("sqlite loaded; settling")
	if err := env.Settle(); err != nil {
		return err
	}
	r.LoadDur = time.Since(t)
	r.logf("loaded in %v", r.LoadDur.Round(time.Millisecond))
	for _, w := range Workloads {
		if err := env.Settle(); err != nil {
			return err
		}
		res, err := r.measureColumns(ctx, env, w.Key, w.Scan, env.Columns(), func(c Column) Op { return w.Op(c, cfg.Users) })
		if err != nil {
			return fmt.Errorf("bench: %s: %w", w.Key, err)
		}
		r.Results = append(r.Results, res...)
	}
	if cfg.Conc {
		if err := r.runConcSection(ctx, env); err != nil {
			return err
		}
	}
	return r.measureCompile(ctx, env)
}

// Check reports the first count of c that is negative (no count has a
// meaning below 0: 0 means its default), a negative OpTime, or, with Main,
// Users not positive and (with Conc) ConcRows fewer than the most
// goroutines.
func (c Config) Check() error {
	for _, f := range []struct {
		name string
		n    int
	}{{"Reps", c.Reps}, {"ScanReps", c.ScanReps}, {"ScanApartReps", c.ScanApartReps}, {"Rounds", c.Rounds},
		{"ConcRows", c.ConcRows}, {"IndexRows", c.IndexRows}, {"Users", c.Users}} {
		if f.n < 0 {
			return fmt.Errorf("bench: Config.%s is %d; want 0 or more", f.name, f.n)
		}
	}
	if c.Main && c.Users == 0 {
		return errors.New("bench: Config.Users is 0; the main workloads want at least one user")
	}
	if c.OpTime < 0 {
		return fmt.Errorf("bench: Config.OpTime is %v; want 0 or more", c.OpTime)
	}
	// LoadConc refuses fewer rows than the most goroutines, but only once
	// the data set is loaded and the main workloads have run.
	if most := ConcGoroutines[len(ConcGoroutines)-1]; c.Main && c.Conc && c.ConcRows > 0 && c.ConcRows < most {
		return fmt.Errorf("bench: Config.ConcRows is %d; want 0 (DefaultConcRows) or at least %d, the most goroutines", c.ConcRows, most)
	}
	if c.CacheBytes < 0 {
		return fmt.Errorf("bench: Config.CacheBytes is %d; want 0 (the default) or more", c.CacheBytes)
	}
	for _, n := range c.GrowthSizes {
		if n < 1 {
			return fmt.Errorf("bench: Config.GrowthSizes holds %d; want sizes of 1 or more", n)
		}
	}
	return nil
}

// DefaultScanReps and DefaultScanApartReps are benchreport's repetitions
// of the colocated and the apart scan (-scan-reps, -scan-apart-reps). In
// runs of 5 repetitions the apart scan's protoql ÷ raw ratio moved by ±0.1
// (1.32×, 1.40×, 1.28×), the colocated scan's less (1.08×, 1.13×, 1.12×).
// A repetition of the apart scan costs ≈ 1.4 s (4 columns of ≈ 0.35 s), of
// the colocated one ≈ 10.5 s (5 columns, the blob's 5.9 s among them): on
// the run of 6 min 41 s at 6c17c79, 11 and 7 add 6 × 1.4 + 2 × 10.5 ≈ 29 s
// (≈ 7 min 10 s; ≈ 9 min 20 s on a day 1.3× slower, as the 8 min 40 s
// runs were), where 11 of both would add 71 s (≈ 7 min 52 s, and over 10
// min on the slower day).
const (
	DefaultScanReps      = 7
	DefaultScanApartReps = 11
)

// repsOf returns the number of repetitions of workload key (scan: one of
// the full scans).
func (c Config) repsOf(key string, scan bool) int {
	n := c.Reps
	switch {
	case !scan:
	case key == "scan-apart" && c.ScanApartReps > 0:
		n = c.ScanApartReps
	case key != "scan-apart" && c.ScanReps > 0:
		n = c.ScanReps
	}
	return max(n, 1)
}

// measureColumns calibrates every column that runs the workload, then runs
// the repetitions (Config.Reps; a scan's: Config.repsOf) interleaved
// (repetition 1 of every column, then 2...), so
// that a drift in machine load touches every column alike; the column that
// goes first rotates, and each column's operations pick their own users
// (see measureOps).
func (r *Report) measureColumns(ctx context.Context, env *Env, key string, scan bool, cols []Column, opOf func(Column) Op) ([]Result, error) {
	var ops []namedOp
	for _, c := range cols {
		if op := opOf(c); op != nil {
			ops = append(ops, namedOp{c.Name, op, func() uint64 { return env.written(c.Impl) }, env.blockMisses, env.quiesce})
		}
	}
	return r.measureOps(ctx, key, scan, ops)
}

// namedOp is one column's operation of a workload, with its engine's
// bytes written so far and, where it has them, Pebble's block cache
// misses so far (nil: not counted), and quiesce (nil: none), which
// measureOps calls after each stretch of the column's operations, untimed,
// to wait for the background work the stretch left (Env.quiesce).
type namedOp struct {
	name    string
	op      Op
	written func() uint64
	misses  func() int64
	quiesce func()
}

// measureOps is measureColumns on the columns' operations.
func (r *Report) measureOps(ctx context.Context, key string, scan bool, ops []namedOp) ([]Result, error) {
	type col struct {
		c  namedOp
		op Op
		n  int
	}
	var run []col
	for _, c := range ops {
		op := c.op
		n := 1
		var err error
		if scan {
			err = op(ctx, 0) // warm-up
		} else {
			n, err = calibrate(ctx, op, r.Config.OpTime, 900_000_000)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		quiesce(c)
		run = append(run, col{c, op, n})
	}
	out := make([]Result, len(run))
	rounds := r.Config.Rounds
	switch {
	case scan:
		rounds = 1 // one operation
	case rounds < 1:
		rounds = DefaultRounds
	}
	for rep := range r.Config.repsOf(key, scan) {
		// Each column draws its own stretch of the operation sequence:
		// the columns share one store, so a column running right after
		// another on the same keys would find them in the block cache.
		// Its repetition runs in rounds (Config.Rounds) of one stretch of
		// every column, and each repetition starts with the next column.
		parts := make([][]Sample, len(run))
		done := make([]int, len(run))
		for round := range rounds {
			for j := range run {
				k := (j + rep) % len(run)
				rc := run[k]
				n := (rc.n*(round+1))/rounds - done[k]
				if n == 0 {
					continue
				}
				m0 := misses(rc.c)
				s, err := measure(ctx, rc.op, n, rep*100_000_000+(k+1)*10_000_000+done[k], rc.c.written, scan)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", rc.c.name, err)
				}
				s.BlockMisses = float64(misses(rc.c)-m0) / float64(n)
				done[k] += n
				quiesce(rc.c)
				parts[k] = append(parts[k], s)
			}
		}
		for k := range run {
			out[k].Samples = append(out[k].Samples, combine(parts[k]))
		}
	}
	for k, rc := range run {
		out[k].Workload, out[k].Column = key, rc.c.name
		out[k].Median = median(out[k].Samples)
		m := out[k].Median
		r.logf("%-12s %-16s %12.0f ns/op %12.0f cpu-ns/op %10.0f gc-ns/op %8.1f allocs/op %10.0f written B/op", key, rc.c.name, m.NsPerOp, m.CPUNsPerOp, m.GCNsPerOp, m.AllocsPerOp, m.WrittenPerOp)
	}
	return out, nil
}

// quiesce runs c's quiesce, if it has one.
func quiesce(c namedOp) {
	if c.quiesce != nil {
		c.quiesce()
	}
}

// misses returns c's block cache misses so far (0 when not counted).
func misses(c namedOp) int64 {
	if c.misses == nil {
		return 0
	}
	return c.misses()
}

// runIndexes runs the Indexes section: IndexWorkloads on tables of
// Config.IndexRows rows.
func (r *Report) runIndexes(ctx context.Context) error {
	cfg := r.Config
	if cfg.IndexRows <= 0 {
		return nil
	}
	t := time.Now()
	r.logf("loading the index tables: %d rows × 3 tables × 3 columns", cfg.IndexRows)
	env, err := OpenIndexEnv(ctx, filepath.Join(cfg.Dir, "index"), cfg.IndexRows, EnvOptions{Sync: cfg.Sync, CacheBytes: cfg.CacheBytes})
	if err != nil {
		return err
	}
	defer env.Close()
	r.logf("index tables loaded in %v", time.Since(t).Round(time.Millisecond))
	for _, w := range IndexWorkloads {
		if err := env.Settle(); err != nil {
			return err
		}
		var ops []namedOp
		for _, c := range env.Columns() {
			if op := w.Op(c, cfg.IndexRows); op != nil {
				ops = append(ops, namedOp{name: c.Name, op: op, written: c.Written})
			}
		}
		res, err := r.measureOps(ctx, w.Key, false, ops)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", w.Key, err)
		}
		r.Index = append(r.Index, res...)
	}
	r.logf("indexes section in %v", time.Since(t).Round(time.Millisecond))
	return nil
}

func (r *Report) measureCompile(ctx context.Context, env *Env) error {
	cat := env.db.Catalog()
	none := func() uint64 { return 0 }
	for _, text := range CompileQueries {
		op := func(context.Context, int) error { _, err := query.Compile(cat, text); return err }
		n, err := calibrate(ctx, op, r.Config.OpTime/2, 0)
		if err != nil {
			return fmt.Errorf("bench: compile %s: %w", text, err)
		}
		res := Result{Workload: text, Column: "protoql"}
		for range r.Config.Reps {
			s, err := measure(ctx, op, n, 0, none, false)
			if err != nil {
				return err
			}
			res.Samples = append(res.Samples, s)
		}
		res.Median = median(res.Samples)
		r.logf("compile %-60s %8.0f ns/op", text, res.Median.NsPerOp)
		r.Compile = append(r.Compile, res)
	}
	return nil
}

func (r *Report) runGrowth(ctx context.Context) error {
	cfg := r.Config
	if len(cfg.GrowthSizes) == 0 {
		return nil
	}
	env, err := OpenEnv(ctx, filepath.Join(cfg.Dir, "growth"), EnvOptions{Sync: cfg.Sync})
	if err != nil {
		return err
	}
	defer env.Close()
	r.logf("loading the growth users (maps of %v sessions)", cfg.GrowthSizes)
	if err := env.LoadGrowth(ctx, cfg.GrowthSizes); err != nil {
		return err
	}
	for _, n := range cfg.GrowthSizes {
		if err := env.Settle(); err != nil {
			return err
		}
		res, err := r.measureColumns(ctx, env, fmt.Sprintf("growth-%d", n), false, env.GrowthColumns(), func(c Column) Op { return GrowthOp(c, n) })
		if err != nil {
			return fmt.Errorf("bench: growth %d: %w", n, err)
		}
		r.Growth[n] = res
	}
	if slices.Contains(cfg.GrowthSizes, 10) {
		if err := r.runHot(ctx, env); err != nil {
			return err
		}
	}
	if cfg.WorkingSet {
		return r.runWorkingSet(ctx, env)
	}
	return nil
}

// runWorkingSet runs the growth curve at a fixed working set of W keys, W
// the largest growth size, on the growth store: its users are loaded after
// the growth curve and the hot entries have run, so that those run on the
// store they have always run on, and the point of size W updates the
// growth curve's user, which is loaded already.
func (r *Report) runWorkingSet(ctx context.Context, env *Env) error {
	sizes := r.Config.GrowthSizes
	w := slices.Max(sizes)
	r.WorkingSetKeys = w
	var load []int
	for _, n := range sizes {
		if n != w {
			load = append(load, n)
		}
	}
	t := time.Now()
	r.logf("loading the working-set users (W = %d keys: W/n maps of n sessions for n in %v)", w, load)
	if err := env.LoadWorkingSet(w, load); err != nil {
		return err
	}
	r.logf("working-set users loaded in %v", time.Since(t).Round(time.Millisecond))
	for _, n := range sizes {
		if err := env.Settle(); err != nil {
			return err
		}
		res, err := r.measureColumns(ctx, env, fmt.Sprintf("wset-%d", n), false, env.WorkingSetColumns(), func(c Column) Op { return WorkingSetOp(c, w, n) })
		if err != nil {
			return fmt.Errorf("bench: growth at a working set of %d keys, n = %d: %w", w, n, err)
		}
		r.WorkingSet[n] = res
	}
	r.logf("working-set curve in %v", time.Since(t).Round(time.Millisecond))
	return nil
}

// HotResult is the median time per write of the first and the last
// HotWindow of HotOps writes to the entries of a 10-entry map, starting
// from a flushed memtable.
type HotResult struct {
	Column      string
	First, Last float64
}

func (r *Report) runHot(ctx context.Context, env *Env) error {
	cols := env.HotColumns()
	firsts, lasts := make([][]float64, len(cols)), make([][]float64, len(cols))
	for range r.Config.Reps {
		for k, c := range cols {
			f, l, err := measureHot(ctx, env, GrowthOp(c, 10))
			if err != nil {
				return fmt.Errorf("bench: hot entries on %s: %w", c.Name, err)
			}
			firsts[k], lasts[k] = append(firsts[k], f), append(lasts[k], l)
		}
	}
	for k, c := range cols {
		h := HotResult{Column: c.Name, First: medianOf(firsts[k]), Last: medianOf(lasts[k])}
		r.logf("hot %-16s first %d: %8.0f ns/op   last %d: %8.0f ns/op", c.Name, HotWindow, h.First, HotWindow, h.Last)
		r.Hot = append(r.Hot, h)
	}
	return nil
}

// LoadStats is the machine's 1-minute load average during the run.
type LoadStats struct {
	Start, End, Max, Mean float64
}

type loadSampler struct {
	stopc chan struct{}
	done  sync.WaitGroup
	stats LoadStats
}

// startLoadSampler samples /proc/loadavg every 5 seconds until stop.
func startLoadSampler() *loadSampler {
	l := &loadSampler{stopc: make(chan struct{})}
	l.stats.Start = loadAvg()
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		sum, n := l.stats.Start, 1.0
		l.stats.Max = l.stats.Start
		for {
			select {
			case <-l.stopc:
				l.stats.Mean = sum / n
				return
			case <-tick.C:
				v := loadAvg()
				sum, n = sum+v, n+1
				l.stats.Max = max(l.stats.Max, v)
			}
		}
	}()
	return l
}

func (l *loadSampler) stop() LoadStats {
	close(l.stopc)
	l.done.Wait()
	l.stats.End = loadAvg()
	l.stats.Max = max(l.stats.Max, l.stats.End)
	return l.stats
}

// loadAvg returns the 1-minute load average, 0 where unavailable.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscan(strings.Fields(string(b))[0], &v)
	return v
}
