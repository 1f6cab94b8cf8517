package bench

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

// TestMeasureOpsScanReps: a scan workload runs Config.ScanReps (the
// colocated scan) or Config.ScanApartReps (the apart scan) repetitions, 0
// meaning Config.Reps, each of one scan per column in turn, starting with
// the next column at each repetition; and the report's header sentence
// states the counts the stretches show, in order: the repetitions of the
// other workloads, their rounds, then the scans'.
func TestMeasureOpsScanReps(t *testing.T) {
	const reps, rounds = 2, 5
	names := []string{"a", "b", "c"}
	for _, tc := range []struct {
		scan, apart int
		note        []int // the numbers of the header's sentence
	}{
		{3, 4, []int{reps, rounds, 3, 4}},
		{6, 6, []int{reps, rounds, 6}},
		{0, 0, []int{reps, rounds}},
		{0, 7, []int{reps, rounds, reps, 7}},
	} {
		cfg := Config{Reps: reps, Rounds: rounds, ScanReps: tc.scan, ScanApartReps: tc.apart, OpTime: time.Millisecond, Main: true, Log: io.Discard}
		r := &Report{Config: cfg}
		counted := []int{}
		for _, w := range []struct {
			key  string
			scan bool
		}{{"w", false}, {"scan", true}, {"scan-apart", true}} {
			var log []stretch
			var ops []namedOp
			for _, name := range names {
				ops = append(ops, namedOp{
					name: name,
					op: func(_ context.Context, i int) error {
						if i == 0 || i >= 900_000_000 && !w.scan { // warm-up, calibration
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
			out, err := r.measureOps(context.Background(), w.key, w.scan, ops)
			if err != nil {
				t.Fatal(err)
			}
			perRep := len(names)
			if !w.scan {
				perRep *= rounds
			}
			if len(log)%perRep != 0 {
				t.Fatalf("%+v, %s: %d stretches, not whole repetitions of %d: %v", tc, w.key, len(log), perRep, log)
			}
			n := len(log) / perRep
			for k := range names {
				if len(out[k].Samples) != n {
					t.Errorf("%+v, %s: column %s has %d samples, ran %d repetitions", tc, w.key, names[k], len(out[k].Samples), n)
				}
			}
			if w.scan {
				for rep := range n {
					for j := range names {
						k := (j + rep) % len(names)
						s := log[rep*len(names)+j]
						if s.col != names[k] || s.first != s.last || s.first != rep*100_000_000+(k+1)*10_000_000 {
							t.Fatalf("%+v, %s: repetition %d, turn %d: %+v, want one scan of column %s", tc, w.key, rep, j, s, names[k])
						}
					}
				}
			}
			counted = append(counted, n)
		}
		// The counts the stretches show: reps for the other workloads,
		// the scans' own.
		want := map[string]int{"scan": cmp.Or(tc.scan, reps), "scan-apart": cmp.Or(tc.apart, reps)}
		if counted[0] != reps || counted[1] != want["scan"] || counted[2] != want["scan-apart"] {
			t.Errorf("%+v: repetitions run (other, scan, scan-apart) %v", tc, counted)
		}
		var buf bytes.Buffer
		r.WriteTables(&buf)
		head, _, _ := strings.Cut(buf.String(), "\n\n")
		var got []int
		for _, d := range regexp.MustCompile(`\d+`).FindAllString(repsNote(cfg), -1) {
			v, _ := strconv.Atoi(d)
			got = append(got, v)
		}
		if !slices.Equal(got, tc.note) || !strings.Contains(strings.Join(strings.Fields(head), " "), repsNote(cfg)) {
			t.Errorf("%+v: the header states %v, want %v (repetitions run: %v):\n%s", tc, got, tc.note, counted, head)
		}
	}
}
