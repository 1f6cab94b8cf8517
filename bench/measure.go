package bench

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Op is one operation of a workload; i numbers the operations of a
// repetition, so that every implementation visits the same users in the
// same order.
type Op func(ctx context.Context, i int) error

// Sample is one repetition of one workload on one implementation.
type Sample struct {
	Ops          int
	NsPerOp      float64
	AllocsPerOp  float64
	AllocBPerOp  float64 // bytes allocated
	WrittenPerOp float64 // engine bytes written (see Env.written)
	PeakRSS      int64   // peak resident set during the repetition (scans only)
	// BlockMisses is Pebble's block cache misses per operation, of the
	// store the workload reads (0 for SQLite, whose reads are not counted).
	BlockMisses float64
	BaseRSS     int64 // resident set right before it (scans only)
	// CPUNsPerOp is the process's CPU time (every thread: Pebble's and
	// SQLite's background work, the Go GC) per operation, and GCNsPerOp
	// the Go GC's share of it (runtime/metrics), so that a workload whose
	// wall time exceeds its CPU time shows it waited (for a CPU, or for
	// the disk), and one whose neighbours' garbage is collected during its
	// repetition shows it paid for it.
	CPUNsPerOp float64
	GCNsPerOp  float64
	// GCsPerOp is the Go GC cycles completed per operation, and LiveHeap
	// the live Go heap right before the repetition (scans only: the heap
	// is settled first). The runtime starts a cycle each time the heap
	// has grown by about its live size (at least 4 MiB), so a scan's
	// cycles are its bytes allocated over the live heap of the process it
	// runs in: they show why a scan's GC cost is the harness's as much as
	// the scan's (Pebble's block cache is outside the Go heap).
	GCsPerOp float64
	LiveHeap int64
}

// calibrate runs op until about target has elapsed (at least once) and
// returns how many operations fill target. It also warms the caches up.
func calibrate(ctx context.Context, op Op, target time.Duration, base int) (int, error) {
	start := time.Now()
	n := 0
	for batch := 1; ; batch *= 2 {
		for range batch {
			if err := op(ctx, base+n); err != nil {
				return 0, err
			}
			n++
		}
		if el := time.Since(start); el >= target/4 {
			per := float64(el) / float64(n)
			return max(1, int(float64(target)/per)), nil
		}
	}
}

// measure runs n operations of op from base and samples their cost.
// written returns the engine's bytes written so far; rss asks for the
// peak resident set to be recorded (it settles the heap first).
func measure(ctx context.Context, op Op, n, base int, written func() uint64, rss bool) (Sample, error) {
	var s Sample
	if rss {
		runtime.GC()
		debug.FreeOSMemory()
		resetPeakRSS()
		s.BaseRSS = readRSS("VmRSS:")
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	w0 := written()
	cpu0, gc0 := cpuTime(), gcCPUTime()
	start := time.Now()
	for i := range n {
		if err := op(ctx, base+i); err != nil {
			return s, err
		}
	}
	el := time.Since(start)
	cpu1, gc1 := cpuTime(), gcCPUTime()
	w1 := written()
	runtime.ReadMemStats(&m1)
	if rss {
		s.PeakRSS = readRSS("VmHWM:")
	}
	f := float64(n)
	s.Ops = n
	s.NsPerOp = float64(el.Nanoseconds()) / f
	s.AllocsPerOp = float64(m1.Mallocs-m0.Mallocs) / f
	s.AllocBPerOp = float64(m1.TotalAlloc-m0.TotalAlloc) / f
	s.WrittenPerOp = float64(w1-w0) / f
	s.CPUNsPerOp = float64(cpu1-cpu0) / f
	s.GCNsPerOp = (gc1 - gc0) * 1e9 / f
	s.GCsPerOp = float64(m1.NumGC-m0.NumGC) / f
	if rss {
		s.LiveHeap = int64(m0.HeapAlloc)
	}
	return s, nil
}

// DefaultRounds is Config.Rounds' default: 10 stretches per repetition
// (20 ms each at the default OpTime).
const DefaultRounds = 10

// combine returns the sample of the operations of parts together: their
// per-operation figures weighted by their operations, and the largest
// peak and base resident sets and live heap.
func combine(parts []Sample) Sample {
	if len(parts) == 1 {
		return parts[0]
	}
	var s Sample
	for _, p := range parts {
		s.Ops += p.Ops
	}
	f := float64(s.Ops)
	for _, p := range parts {
		w := float64(p.Ops) / f
		s.NsPerOp += w * p.NsPerOp
		s.AllocsPerOp += w * p.AllocsPerOp
		s.AllocBPerOp += w * p.AllocBPerOp
		s.WrittenPerOp += w * p.WrittenPerOp
		s.BlockMisses += w * p.BlockMisses
		s.CPUNsPerOp += w * p.CPUNsPerOp
		s.GCNsPerOp += w * p.GCNsPerOp
		s.GCsPerOp += w * p.GCsPerOp
		s.LiveHeap = max(s.LiveHeap, p.LiveHeap)
		s.PeakRSS = max(s.PeakRSS, p.PeakRSS)
		s.BaseRSS = max(s.BaseRSS, p.BaseRSS)
	}
	return s
}

// gcCPUTime returns the CPU seconds the Go GC has used so far (an
// estimate of the runtime's: runtime/metrics' /cpu/classes/gc/total).
func gcCPUTime() float64 { return floatMetric("/cpu/classes/gc/total:cpu-seconds") }

// floatMetric returns the runtime/metrics float64 metric name (0 when
// this Go release does not have it).
func floatMetric(name string) float64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return s[0].Value.Float64()
}

// medianOf returns the median of v (0 for none).
func medianOf(v []float64) float64 {
	v = slices.Sorted(slices.Values(v))
	switch {
	case len(v) == 0:
		return 0
	case len(v)%2 == 1:
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// median returns, field by field, the median of the samples (each field is
// reported on its own).
func median(ss []Sample) Sample {
	med := func(get func(Sample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = get(s)
		}
		return medianOf(v)
	}
	return Sample{
		Ops:          ss[0].Ops,
		NsPerOp:      med(func(s Sample) float64 { return s.NsPerOp }),
		AllocsPerOp:  med(func(s Sample) float64 { return s.AllocsPerOp }),
		AllocBPerOp:  med(func(s Sample) float64 { return s.AllocBPerOp }),
		WrittenPerOp: med(func(s Sample) float64 { return s.WrittenPerOp }),
		BlockMisses:  med(func(s Sample) float64 { return s.BlockMisses }),
		CPUNsPerOp:   med(func(s Sample) float64 { return s.CPUNsPerOp }),
		GCNsPerOp:    med(func(s Sample) float64 { return s.GCNsPerOp }),
		GCsPerOp:     med(func(s Sample) float64 { return s.GCsPerOp }),
		LiveHeap:     int64(med(func(s Sample) float64 { return float64(s.LiveHeap) })),
		PeakRSS:      int64(med(func(s Sample) float64 { return float64(s.PeakRSS) })),
		BaseRSS:      int64(med(func(s Sample) float64 { return float64(s.BaseRSS) })),
	}
}

// resetPeakRSS resets the kernel's peak resident set of this process
// (Linux: writing 5 to /proc/self/clear_refs resets VmHWM).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// readRSS returns a "VmXXX:" line of /proc/self/status in bytes, 0 where
// unavailable.
func readRSS(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// mix spreads operation numbers over the data set (splitmix64), the same
// way for every implementation.
func mix(i int) uint64 {
	x := uint64(i) + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
