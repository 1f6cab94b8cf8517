package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
)

// TestScanFixedAllocs holds the fixed cost of a scan on Pebble, with no
// telemetry provider installed, to its allocation budget: a scan that
// stops after its first row or entry (TestScanAllocs holds the cost per
// row). What a scan allocates whatever its length (today's count, so that
// a change that adds to it is seen): the closures of the sequence layers
// (the typed scan's, inView's, its scan's and its View function's, and the
// emit scanRowsTo hands scanWhole) and of the test's loop, pebblekv's view, point reader and iterator adapter
// (two each for the view's iterator), the table's bounds, the first row's
// message (a slab of them for the typed table scan), and for the map scan
// the row id this test formats.
func TestScanFixedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	db := openDB(t, openPebble(t))
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	for i := range 8 {
		check(t, users.Put(ctx, userWithSessions(fmt.Sprintf("user-%02d", i), 4)))
	}
	first := func(n int, err error) error {
		if err == nil && n != 1 {
			err = fmt.Errorf("%d rows, want 1", n)
		}
		return err
	}
	checkAllocBudgets(t, []allocCase{
		{"typed table Scan, first row", 19, func(int) error {
			return first(countRows(users.Scan(ctx, nil, runtime.ScanOptions{Fields: []string{"registered"}}), 1))
		}},
		{"typed map Scan, first entry", 15, func(i int) error {
			return first(countRows(users.Row(fmt.Sprintf("user-%02d", i%8)).Sessions().Scan(ctx, runtime.ScanOptions{}), 1))
		}},
	})
}
