package bench

import (
	"context"
	"fmt"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// BenchmarkScanApartPairs measures the scan-apart workload's columns
// protoql (the default typed scan), protoql-alt (ScanOptions.Reuse) and raw
// Pebble interleaved in one process, which BenchmarkWorkloads' columns
// (one after the other) are not: each iteration runs one full scan of
// each, in an order rotating with the iteration, on an environment holding
// the apart layout only (-bench.users users), and the benchmark reports
// the medians over the iterations of each one's CPU time per row (the
// process's, so the garbage collector's work is counted: <column>-cpu-ns/row)
// and of the ratios protoql/raw and protoql-alt/raw (the measure,
// steadier on a shared machine than two columns' times measured apart).
// Beside them, per column, the medians of the wall time per row
// (<column>-wall-ns/row, and protoql/raw-wall, alt/raw-wall: benchreport's
// measure, which the GC's work on the other core does not lengthen while
// that core is idle), of the Go GC's CPU time per row (<column>-gc-ns/row,
// runtime/metrics' /cpu/classes/gc/total, part of the CPU time) and of the
// part of it the scanning goroutine spent assisting the marking itself
// (<column>-assist-ns/row), of the GC cycles that ended during a scan
// (<column>-gc/scan: the garbage a scan makes, a cycle per heap goal's
// worth allocated: twice the live heap, at least 4 MB) and of the
// process's minor page faults per 1,000 rows (<column>-faults/krow: heap
// pages new to the process or returned to the OS by the scavenger and
// touched again). -benchtime 20x for 20 rounds.
func BenchmarkScanApartPairs(b *testing.B) {
	users := *benchUsers
	e := sharedEnv(b, fmt.Sprintf("apart-%d", users), func(e *Env) error {
		if err := e.loadApart(users, func(i int) *socialpb.User { return NewUser(UserID(i), i, SessionsPerUser) }); err != nil {
			return err
		}
		return e.Settle()
	})
	names := [3]string{"protoql", "protoql-alt", "raw"}
	var ops [3]Op
	for i, c := range e.Columns()[:3] {
		if c.Name != names[i] {
			b.Fatalf("column %d is %s, want %s", i, c.Name, names[i])
		}
		ops[i] = scanApartOp(c, users)
	}
	ctx := context.Background()
	for _, op := range ops {
		if err := op(ctx, 0); err != nil { // the blocks into the cache
			b.Fatal(err)
		}
	}
	var cpu, wall, gcCPU, assist, gc, faults [3][]float64
	var ratio, wallRatio [2][]float64
	round := 0
	for b.Loop() {
		var got, gotWall [3]float64
		for k := range 3 {
			j := (k + round) % 3
			c0, g0, f0 := cpuTime(), gcCycles(), minorFaults()
			gc0, a0 := gcCPUTime(), gcAssistTime()
			start := time.Now()
			if err := ops[j](ctx, 0); err != nil {
				b.Fatal(err)
			}
			gotWall[j] = float64(time.Since(start).Nanoseconds()) / float64(users)
			got[j] = float64(cpuTime()-c0) / float64(users)
			gcCPU[j] = append(gcCPU[j], (gcCPUTime()-gc0)*1e9/float64(users))
			assist[j] = append(assist[j], (gcAssistTime()-a0)*1e9/float64(users))
			gc[j] = append(gc[j], float64(gcCycles()-g0))
			faults[j] = append(faults[j], float64(minorFaults()-f0)*1000/float64(users))
		}
		for j := range 3 {
			cpu[j] = append(cpu[j], got[j])
			wall[j] = append(wall[j], gotWall[j])
		}
		ratio[0] = append(ratio[0], got[0]/got[2])
		ratio[1] = append(ratio[1], got[1]/got[2])
		wallRatio[0] = append(wallRatio[0], gotWall[0]/gotWall[2])
		wallRatio[1] = append(wallRatio[1], gotWall[1]/gotWall[2])
		round++
	}
	for j, name := range names {
		b.ReportMetric(medianOf(cpu[j]), name+"-cpu-ns/row")
		b.ReportMetric(medianOf(wall[j]), name+"-wall-ns/row")
		b.ReportMetric(medianOf(gcCPU[j]), name+"-gc-ns/row")
		b.ReportMetric(medianOf(assist[j]), name+"-assist-ns/row")
		b.ReportMetric(medianOf(gc[j]), name+"-gc/scan")
		b.ReportMetric(medianOf(faults[j]), name+"-faults/krow")
	}
	b.ReportMetric(medianOf(ratio[0]), "protoql/raw")
	b.ReportMetric(medianOf(ratio[1]), "alt/raw")
	b.ReportMetric(medianOf(wallRatio[0]), "protoql/raw-wall")
	b.ReportMetric(medianOf(wallRatio[1]), "alt/raw-wall")
}

// gcAssistTime returns the CPU seconds goroutines have spent so far
// assisting the Go GC's marking (runtime/metrics'
// /cpu/classes/gc/mark/assist): the GC work a goroutine that allocates
// while a cycle marks does itself, on its own time.
func gcAssistTime() float64 { return floatMetric("/cpu/classes/gc/mark/assist:cpu-seconds") }

// gcCycles returns the Go GC cycles completed so far.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// minorFaults returns the process's minor page faults so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}
