package bench

import (
	"context"
	"io"
	"testing"
	"time"
)

// stretch is a run of consecutive operation numbers of one column.
type stretch struct {
	col         string
	first, last int
}

// TestMeasureOpsRounds: a repetition of a workload other than a scan runs
// in Config.Rounds rounds, each with one stretch of every column in turn,
// starting with the next column at each repetition; each column's
// stretches of a repetition continue one another from its own base, and
// its sample counts all of them.
func TestMeasureOpsRounds(t *testing.T) {
	const reps, rounds = 2, 3
	r := &Report{Config: Config{Reps: reps, Rounds: rounds, OpTime: time.Millisecond, Log: io.Discard}}
	var log []stretch
	var ops []namedOp
	names := []string{"a", "b", "c"}
	for _, name := range names {
		ops = append(ops, namedOp{
			name: name,
			op: func(_ context.Context, i int) error {
				if i >= 900_000_000 { // calibration
					return nil
				}
				if n := len(log); n > 0 && log[n-1].col == name && log[n-1].last == i-1 {
					log[n-1].last = i
				} else {
					log = append(log, stretch{name, i, i})
				}
				return nil
			},
			written: func() uint64 { return 0 },
		})
	}
	out, err := r.measureOps(context.Background(), "w", false, ops)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != reps*rounds*len(names) {
		t.Fatalf("%d stretches, want %d (%d repetitions of %d rounds of %d columns): %v", len(log), reps*rounds*len(names), reps, rounds, len(names), log)
	}
	for rep := range reps {
		next := make([]int, len(names)) // each column's next operation number
		for k := range names {
			next[k] = rep*100_000_000 + (k+1)*10_000_000
		}
		for round := range rounds {
			for j := range names {
				k := (j + rep) % len(names)
				s := log[(rep*rounds+round)*len(names)+j]
				if s.col != names[k] || s.first != next[k] {
					t.Fatalf("repetition %d, round %d, turn %d: column %s from %d, want %s from %d", rep, round, j, s.col, s.first, names[k], next[k])
				}
				next[k] = s.last + 1
			}
		}
		for k, name := range names {
			ops := next[k] - (rep*100_000_000 + (k+1)*10_000_000)
			if got := out[k].Samples[rep].Ops; got != ops {
				t.Errorf("repetition %d: column %s's sample counts %d operations, ran %d", rep, name, got, ops)
			}
		}
	}
}

// TestCombine: the sample of several stretches weighs each stretch's
// per-operation figures by its operations, and keeps the largest resident
// sets and live heap.
func TestCombine(t *testing.T) {
	got := combine([]Sample{
		{Ops: 1, NsPerOp: 10, CPUNsPerOp: 20, GCNsPerOp: 8, GCsPerOp: 2, AllocsPerOp: 4, AllocBPerOp: 40, WrittenPerOp: 12, BlockMisses: 1, PeakRSS: 5, BaseRSS: 3, LiveHeap: 9},
		{Ops: 3, NsPerOp: 2, CPUNsPerOp: 4, GCNsPerOp: 0, GCsPerOp: 6, AllocsPerOp: 0, AllocBPerOp: 8, WrittenPerOp: 4, BlockMisses: 1, PeakRSS: 7, BaseRSS: 2, LiveHeap: 4},
	})
	want := Sample{Ops: 4, NsPerOp: 4, CPUNsPerOp: 8, GCNsPerOp: 2, GCsPerOp: 5, AllocsPerOp: 1, AllocBPerOp: 16, WrittenPerOp: 6, BlockMisses: 1, PeakRSS: 7, BaseRSS: 3, LiveHeap: 9}
	if got != want {
		t.Errorf("combine = %+v, want %+v", got, want)
	}
}
