package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// ConcGoroutines are the goroutine counts of the concurrency workloads.
var ConcGoroutines = []int{1, 4, 16}

// DefaultConcRows is how many users (and threads) of its own each column's
// concurrent writers spread over: the goroutines split them, so the working
// set is the same whatever their number.
const DefaultConcRows = 4096

// ConcColumn is one column of the concurrency workloads.
type ConcColumn struct {
	Name  string
	Impl  ConcImpl
	model *concModel
}

// ConcOp is operation i of goroutine w of g; runs is what ConcImpl's
// transactional methods return (0 for the others).
type ConcOp func(ctx context.Context, w, g, i int) (runs int, err error)

// ConcWorkload is one operation run by 1, 4 and 16 goroutines at once on
// every concurrency column.
type ConcWorkload struct {
	// Key is the short name used by BenchmarkConcurrency and the report.
	Key string
	// Title describes the operation.
	Title string
	// Op returns the operation on c, on a data set of users users.
	Op func(c ConcColumn, users int) ConcOp
}

// ConcWorkloads are the concurrency workloads, in the order they run.
// Writes go to the column's own concurrency rows (see ConcUserID): distinct
// rows per goroutine, except inline-hot, where every goroutine writes the
// same row.
var ConcWorkloads = []ConcWorkload{
	{Key: "get", Title: "get a User whole, a random user of the data set", Op: concGetOp},
	{Key: "set-expiry", Title: "update one session's expires_us (protoql: a field patch; raw: read-modify-write of the entry)", Op: concExpiryOp},
	{Key: "inline", Title: "increment registered (read-modify-write of the row, UpdateInline)", Op: concIncOp(false)},
	{Key: "inline-hot", Title: "increment registered of one row, every goroutine", Op: concIncOp(true)},
	{Key: "update", Title: "DB.Update: get a User, put a post into a Thread", Op: concPostOp},
}

// concRow is the row that operation i of goroutine w of g writes:
// goroutine w owns the rows w, w+g, w+2g… of rows (a multiple of g).
func concRow(w, g, i, rows int) int { return w + g*int(mix(i)%uint64(rows/g)) }

// opIndex makes operation numbers distinct across goroutines.
func opIndex(w, i int) int { return w<<40 | i }

func concGetOp(c ConcColumn, users int) ConcOp {
	return func(ctx context.Context, w, _, i int) (int, error) {
		u, err := c.Impl.Get(ctx, UserID(int(mix(opIndex(w, i))%uint64(users))))
		if err == nil && len(u.Sessions) != SessionsPerUser {
			err = fmt.Errorf("bench: %s get: %d sessions", c.Name, len(u.Sessions))
		}
		return 0, err
	}
}

func concExpiryOp(c ConcColumn, _ int) ConcOp {
	m := c.model
	return func(ctx context.Context, w, g, i int) (int, error) {
		r := concRow(w, g, opIndex(w, i), m.rows)
		k := m.expiry[r].Add(1)
		return 0, c.Impl.SetSessionExpiry(ctx, ConcUserID(c.Name, r), SessionID(int(k%SessionsPerUser)), concExpiry(k))
	}
}

func concIncOp(hot bool) func(c ConcColumn, _ int) ConcOp {
	return func(c ConcColumn, _ int) ConcOp {
		m := c.model
		return func(ctx context.Context, w, g, i int) (int, error) {
			r := m.rows // the hot row
			if !hot {
				r = concRow(w, g, opIndex(w, i), m.rows)
			}
			runs, err := c.Impl.IncRegistered(ctx, ConcUserID(c.Name, r))
			if err == nil {
				m.inc[r].Add(1)
			}
			return runs, err
		}
	}
}

func concPostOp(c ConcColumn, _ int) ConcOp {
	m := c.model
	return func(ctx context.Context, w, g, i int) (int, error) {
		r := concRow(w, g, opIndex(w, i), m.rows)
		k := m.posts[r].Add(1) - 1 // the row is this goroutine's: posts are written in order
		return c.Impl.AddPost(ctx, concThreadID(c.Name, r), k, ConcUserID(c.Name, r))
	}
}

// LoadConc loads the concurrency rows of every concurrency column (rows
// distinct rows and the hot row each, users like the data set's) and opens
// the SQLite pool; ConcColumns returns the columns after it.
func (e *Env) LoadConc(ctx context.Context, rows int) error {
	if rows < ConcGoroutines[len(ConcGoroutines)-1] {
		return fmt.Errorf("bench: %d concurrency rows: want at least %d", rows, ConcGoroutines[len(ConcGoroutines)-1])
	}
	rows -= rows % ConcGoroutines[len(ConcGoroutines)-1]
	pool, err := OpenSQLitePool(filepath.Join(e.dir, "sqlite.db"), e.opts.Sync, e.opts.CacheBytes, ConcGoroutines[len(ConcGoroutines)-1])
	if err != nil {
		return err
	}
	e.concPool = pool
	e.conc = []ConcColumn{
		{Name: "protoql", Impl: e.Protoql},
		{Name: "raw", Impl: e.Raw},
		{Name: "sqlite", Impl: pool},
	}
	for k := range e.conc {
		e.conc[k].model = newConcModel(rows)
	}
	per := rows + 1
	return e.Load(ctx, len(e.conc)*per, func(i int) *socialpb.User {
		r := i % per
		return NewUser(ConcUserID(e.conc[i/per].Name, r), r, SessionsPerUser)
	})
}

// ConcColumns returns the concurrency columns (after LoadConc).
func (e *Env) ConcColumns() []ConcColumn { return e.conc }

// VerifyConc checks that every concurrency column's rows hold what the
// writes made so far must have left.
func (e *Env) VerifyConc(ctx context.Context) error {
	for _, c := range e.conc {
		if err := c.model.verify(ctx, c.Impl, c.Name); err != nil {
			return err
		}
	}
	return nil
}

// ConcSample is one run of a concurrency workload: Ops operations split
// among G goroutines.
type ConcSample struct {
	G, Ops int
	Wall   time.Duration
	CPU    time.Duration // process CPU time, user + system
	Runs   int64         // sum of the ops' runs
}

// OpsPerSec is the throughput of all the goroutines together.
func (s ConcSample) OpsPerSec() float64 { return float64(s.Ops) / s.Wall.Seconds() }

// CPUPerOp is CPU nanoseconds per operation.
func (s ConcSample) CPUPerOp() float64 { return float64(s.CPU) / float64(s.Ops) }

// RunsPerOp is how many times a transactional op's function ran per
// operation (0 where not counted).
func (s ConcSample) RunsPerOp() float64 { return float64(s.Runs) / float64(s.Ops) }

// runConc runs n operations of op split among g goroutines, started
// together, numbering each goroutine's operations from base.
func runConc(ctx context.Context, op ConcOp, g, n, base int) (ConcSample, error) {
	var (
		wg     sync.WaitGroup
		runs   atomic.Int64
		failed atomic.Bool
		start  = make(chan struct{})
		errc   = make(chan error, g)
	)
	for w := range g {
		k := n / g
		if w < n%g {
			k++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			local := 0
			for j := range k {
				if failed.Load() {
					return
				}
				r, err := op(ctx, w, g, base+j)
				if err != nil {
					failed.Store(true)
					errc <- fmt.Errorf("goroutine %d of %d: %w", w, g, err)
					return
				}
				local += r
			}
			runs.Add(int64(local))
		}()
	}
	cpu0 := cpuTime()
	t0 := time.Now()
	close(start)
	wg.Wait()
	s := ConcSample{G: g, Ops: n, Wall: time.Since(t0), CPU: time.Duration(cpuTime() - cpu0), Runs: runs.Load()}
	close(errc)
	return s, <-errc
}

// calibrateConc runs op with g goroutines until a run lasts target/4 and
// returns how many operations fill target (at least g).
func calibrateConc(ctx context.Context, op ConcOp, g int, target time.Duration, base int) (int, error) {
	for n := g; ; n *= 2 {
		s, err := runConc(ctx, op, g, n, base)
		if err != nil {
			return 0, err
		}
		base += n
		if s.Wall >= target/4 {
			return max(g, int(float64(n)*float64(target)/float64(s.Wall))), nil
		}
	}
}

// cpuTime returns the process's user and system CPU time in nanoseconds
// (every thread: the goroutines, Pebble's flushes and compactions, SQLite).
// On a shared machine, where wall time per operation mostly measures
// waiting for a CPU, CPU time per operation is the steadier cost.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// ConcResult is a concurrency workload on one column with G goroutines:
// its samples and their medians.
type ConcResult struct {
	Workload, Column string
	G                int
	Samples          []ConcSample
	OpsPerSec        float64
	CPUPerOp         float64 // ns
	RunsPerOp        float64
}

// runConcSection loads the concurrency rows into env, runs every
// concurrency workload (each column and goroutine count calibrated, then
// the repetitions interleaved: repetition 1 of every goroutine count and
// column, then 2…) and checks the state every column's writes left.
func (r *Report) runConcSection(ctx context.Context, env *Env) error {
	cfg := r.Config
	rows := cfg.ConcRows
	if rows == 0 {
		rows = DefaultConcRows
	}
	r.logf("loading the concurrency rows (%d per column)", rows)
	if err := env.LoadConc(ctx, rows); err != nil {
		return err
	}
	for _, wl := range ConcWorkloads {
		if err := env.Settle(); err != nil {
			return err
		}
		res, err := r.measureConc(ctx, wl, env.ConcColumns())
		if err != nil {
			return fmt.Errorf("bench: concurrent %s: %w", wl.Key, err)
		}
		r.Conc = append(r.Conc, res...)
	}
	if err := env.VerifyConc(ctx); err != nil {
		return err
	}
	r.logf("concurrency: every column's rows hold what its writes made")
	return nil
}

func (r *Report) measureConc(ctx context.Context, wl ConcWorkload, cols []ConcColumn) ([]ConcResult, error) {
	type cell struct {
		op ConcOp
		n  int
	}
	var out []ConcResult
	var cells []cell
	for _, g := range ConcGoroutines {
		for _, c := range cols {
			op := wl.Op(c, r.Config.Users)
			n, err := calibrateConc(ctx, op, g, r.Config.OpTime, 0)
			if err != nil {
				return nil, fmt.Errorf("%s g=%d: %w", c.Name, g, err)
			}
			out = append(out, ConcResult{Workload: wl.Key, Column: c.Name, G: g})
			cells = append(cells, cell{op, n})
		}
	}
	for rep := range r.Config.Reps {
		for k, c := range cells {
			s, err := runConc(ctx, c.op, out[k].G, c.n, (rep+1)*100_000_000)
			if err != nil {
				return nil, fmt.Errorf("%s g=%d: %w", out[k].Column, out[k].G, err)
			}
			out[k].Samples = append(out[k].Samples, s)
		}
	}
	for k := range out {
		res := &out[k]
		pick := func(f func(ConcSample) float64) float64 {
			v := make([]float64, len(res.Samples))
			for i, s := range res.Samples {
				v[i] = f(s)
			}
			return medianOf(v)
		}
		res.OpsPerSec, res.CPUPerOp, res.RunsPerOp = pick(ConcSample.OpsPerSec), pick(ConcSample.CPUPerOp), pick(ConcSample.RunsPerOp)
		r.logf("concurrent %-10s %-8s g=%-2d %10.0f ops/s %8.1f µs CPU/op %5.2f runs/op", res.Workload, res.Column, res.G, res.OpsPerSec, res.CPUPerOp/1e3, res.RunsPerOp)
	}
	return out, nil
}
