package bench

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestQuiesceWaitsForBackgroundWork: quiesce waits for a store whose
// flushes or compactions moved since Settle or the last quiesce, or that
// has one running, until nothing is in progress, and does not wait when
// nothing moved.
func TestQuiesceWaitsForBackgroundWork(t *testing.T) {
	e := openTestEnv(t)
	if err := e.Settle(); err != nil {
		t.Fatal(err)
	}
	e.quiesce()
	if e.waits != 0 {
		t.Fatalf("quiesce right after Settle waited for %d stores, want 0", e.waits)
	}
	db := e.blobKV.DB()
	if err := db.Set([]byte("quiesce"), make([]byte, 1<<10), nil); err != nil {
		t.Fatal(err)
	}
	// An asynchronous flush, as a full memtable's is: quiesce must see
	// it whether it is still running or has just ended.
	if _, err := db.AsyncFlush(); err != nil {
		t.Fatal(err)
	}
	e.quiesce()
	if e.waits != 1 {
		t.Fatalf("quiesce after the blob store's flush waited for %d stores, want 1", e.waits)
	}
	if m := db.Metrics(); m.Flush.NumInProgress != 0 || m.Compact.NumInProgress != 0 || m.Flush.Count == 0 {
		t.Fatalf("after quiesce: %d flushes and %d compactions in progress, %d flushes done; want 0, 0, ≥ 1", m.Flush.NumInProgress, m.Compact.NumInProgress, m.Flush.Count)
	}
	e.quiesce()
	if e.waits != 1 {
		t.Fatalf("a second quiesce with no writes between waited: %d stores in all, want 1", e.waits)
	}
	// A flush that has ended, and the compactions it started with it:
	// nothing is in progress, and only the moved count says the store is
	// to be waited for (a quiesce that looked at the work in progress
	// alone would miss the compactions such a flush is about to start).
	if err := db.Set([]byte("quiesce"), make([]byte, 1<<10), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	waitCompactions(e.blobKV)
	e.quiesce()
	if e.waits != 2 {
		t.Fatalf("quiesce after the blob store's ended flush waited for %d stores in all, want 2", e.waits)
	}
}

// TestMeasureOpsQuiesces: measureOps calls each column's quiesce once
// after its calibration and once after each stretch of its repetitions
// (a round's).
func TestMeasureOpsQuiesces(t *testing.T) {
	r := &Report{Config: Config{Reps: 3, Rounds: 2, OpTime: time.Millisecond, Log: io.Discard}}
	calls := map[string]int{}
	var ops []namedOp
	for _, name := range []string{"a", "b"} {
		ops = append(ops, namedOp{
			name:    name,
			op:      func(context.Context, int) error { return nil },
			written: func() uint64 { return 0 },
			quiesce: func() { calls[name]++ },
		})
	}
	if _, err := r.measureOps(context.Background(), "w", false, ops); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if calls[name] != 7 {
			t.Errorf("column %s quiesced %d times, want 7 (after calibrating, then after each of 3 repetitions' 2 stretches)", name, calls[name])
		}
	}
}
