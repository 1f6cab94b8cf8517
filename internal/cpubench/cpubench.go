// Package cpubench reports a benchmark's CPU time per operation: on a
// shared machine ns/op mostly measures waiting for a CPU, while the
// process's CPU time (every thread's, background work included) shows what
// an operation costs. It is test support, imported by benchmarks only.
package cpubench

import (
	"syscall"
	"testing"
)

// Report starts counting and returns the function that reports the
// process's CPU time per operation since then, as cpu-ns/op; call it (or
// defer it) when the timed loop ends.
func Report(b *testing.B) func() {
	start := Now()
	return func() { b.ReportMetric(float64(Now()-start)/float64(max(b.N, 1)), "cpu-ns/op") }
}

// Now returns the process's CPU time so far (user + system, every thread),
// in nanoseconds; 0 if the system does not say.
func Now() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
