package bench

import (
	"context"
	"testing"
)

// TestConcurrent runs every concurrency workload with every goroutine
// count on every concurrency column, then reads each column's rows back
// and checks them against the writes made: an update lost, applied twice
// or torn fails it. The pebble columns are read back through each other
// too (protoql's rows through the raw reader and the other way round),
// which checks that both wrote the same layout.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	e := loadTestEnv(t)
	if err := e.LoadConc(ctx, 32); err != nil {
		t.Fatal(err)
	}
	for _, wl := range ConcWorkloads {
		for _, c := range e.ConcColumns() {
			op := wl.Op(c, testUsers)
			for _, g := range ConcGoroutines {
				if _, err := runConc(ctx, op, g, 40*g, g); err != nil {
					t.Fatalf("%s on %s, g=%d: %v", wl.Key, c.Name, g, err)
				}
			}
		}
	}
	if err := e.VerifyConc(ctx); err != nil {
		t.Fatal(err)
	}
	cols := e.ConcColumns()
	for _, c := range cols[:2] {
		m := c.model
		if m.inc[m.rows].Load() != int64(40*(1+4+16)) {
			t.Errorf("%s: hot row counted %d increments, want %d", c.Name, m.inc[m.rows].Load(), 40*(1+4+16))
		}
	}
	if err := cols[0].model.verify(ctx, e.Raw, cols[0].Name); err != nil {
		t.Errorf("protoql's rows read by raw: %v", err)
	}
	if err := cols[1].model.verify(ctx, e.Protoql, cols[1].Name); err != nil {
		t.Errorf("raw's rows read by protoql: %v", err)
	}
}
