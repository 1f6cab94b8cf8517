package bench

import (
	"fmt"
	"io"
	"strconv"
)

// findConc returns the concurrency result of workload on column with g
// goroutines, or nil.
func findConc(rs []ConcResult, workload, column string, g int) *ConcResult {
	for i := range rs {
		if rs[i].Workload == workload && rs[i].Column == column && rs[i].G == g {
			return &rs[i]
		}
	}
	return nil
}

// writeConc prints the concurrency table: per workload and column, the
// throughput at each goroutine count, its scaling over one goroutine, the
// CPU time per operation, and for protoql's transactions the runs per
// operation at the most goroutines.
func (r *Report) writeConc(w io.Writer) {
	if len(r.Conc) == 0 {
		return
	}
	gs := ConcGoroutines
	top := gs[len(gs)-1]
	fmt.Fprintf(w, "### Concurrency: %v goroutines at once\n\n", gs)
	notef(w, "ops/s: operations completed per second of wall time by all the goroutines together (median of %d repetitions); "+
		"scaling: ops/s at g ÷ ops/s at 1; CPU/op: the process's CPU time (user + system, getrusage: every thread, Pebble's and SQLite's background work included) per operation; "+
		"runs/op: how many times a protoql transaction's function ran (1 + retries after conflicts). "+
		"Writers write rows of their own (%d users per column, split among the goroutines), except inline-hot (one row for all). "+
		"After the runs every column's rows were read back and matched the writes made (no update lost or doubled).", r.Config.Reps, r.concRows())
	head := []string{"workload", "column"}
	for _, g := range gs {
		head = append(head, fmt.Sprintf("ops/s g=%d", g))
	}
	for _, g := range gs[1:] {
		head = append(head, fmt.Sprintf("scaling g=%d", g))
	}
	for _, g := range gs {
		head = append(head, fmt.Sprintf("CPU/op g=%d", g))
	}
	head = append(head, fmt.Sprintf("runs/op g=%d", top))
	t := table{head: head}
	for _, wl := range ConcWorkloads {
		for _, col := range []string{"protoql", "raw", "sqlite"} {
			one := findConc(r.Conc, wl.Key, col, gs[0])
			if one == nil {
				continue
			}
			row := []string{"`" + wl.Key + "` " + wl.Title, col}
			for _, g := range gs {
				row = append(row, fmtRate(findConc(r.Conc, wl.Key, col, g)))
			}
			for _, g := range gs[1:] {
				row = append(row, scaling(findConc(r.Conc, wl.Key, col, g), one))
			}
			for _, g := range gs {
				x := findConc(r.Conc, wl.Key, col, g)
				if x == nil {
					row = append(row, "—")
					continue
				}
				row = append(row, fmtNs(x.CPUPerOp))
			}
			runs := "—"
			if x := findConc(r.Conc, wl.Key, col, top); x != nil && x.RunsPerOp > 0 {
				runs = fmt.Sprintf("%.3f", x.RunsPerOp)
			}
			t.add(append(row, runs)...)
		}
	}
	t.write(w)
	r.writeConcTargets(w)
}

// writeConcTargets checks DESIGN.md §8's "reads scale with cores and
// Update throughput scales on distinct rows" for protoql: the throughput at
// 4 goroutines over 1 must reach 3/4 of what the machine's CPUs allow
// (min(4, CPUs)).
func (r *Report) writeConcTargets(w io.Writer) {
	cpus := r.CPUs
	if cpus == 0 {
		cpus = 1
	}
	ideal := float64(min(4, cpus))
	notef(w, "Scaling targets (protoql, 4 goroutines over 1, on %d CPUs: at best %.0f×; holds at ¾ of that):", cpus, ideal)
	t := table{head: []string{"target", "measured", "verdict"}}
	for _, x := range []struct{ wl, what string }{
		{"get", "reads scale with cores (get)"},
		{"update", "DB.Update throughput scales on distinct rows (update)"},
		{"inline", "read-modify-writes scale on distinct rows (inline)"},
		{"set-expiry", "entry updates scale on distinct rows (set-expiry)"},
	} {
		one, four := findConc(r.Conc, x.wl, "protoql", 1), findConc(r.Conc, x.wl, "protoql", 4)
		if one == nil || four == nil || one.OpsPerSec == 0 {
			continue
		}
		q := four.OpsPerSec / one.OpsPerSec
		t.add(x.what, fmt.Sprintf("%.2f× (%s → %s ops/s)", q, fmtRate(one), fmtRate(four)), verdict(q >= 0.75*ideal))
	}
	t.write(w)
}

func (r *Report) concRows() int {
	if r.Config.ConcRows == 0 {
		return DefaultConcRows
	}
	return r.Config.ConcRows - r.Config.ConcRows%ConcGoroutines[len(ConcGoroutines)-1]
}

// fmtRate formats a throughput with three significant digits.
func fmtRate(x *ConcResult) string {
	if x == nil {
		return "—"
	}
	v := x.OpsPerSec
	switch {
	case v >= 1e6:
		return sig3(v/1e6) + " M"
	case v >= 1e3:
		return sig3(v/1e3) + " k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// scaling is the throughput of x over that of one goroutine.
func scaling(x, one *ConcResult) string {
	if x == nil || one == nil || one.OpsPerSec == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x.OpsPerSec/one.OpsPerSec)
}
