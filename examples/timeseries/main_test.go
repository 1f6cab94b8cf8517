package main

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// Example runs the whole example on a fresh database.
func Example() {
	dir, err := os.MkdirTemp("", "protoql-timeseries-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := Run(context.Background(), os.Stdout, dir); err != nil {
		panic(err)
	}
	// Output:
	// recorded 360 points for each of 3 series: one map-entry write per point, never reading the series
	// Series[cpu, web1].last_us = 00:59:50
	// latest 3 of Series[cpu, web1].points: 00:59:50=21.5 00:59:40=17.8 00:59:30=14.1
	// oldest of Series[cpu, web1].points: 00:00:00=43.2
	// cpu db1  window [00:20, 00:25): 30 points, newest 00:24:50, oldest 00:20:00, avg 47.5, peak 94.2
	// cpu web1 window [00:20, 00:25): 30 points, newest 00:24:50, oldest 00:20:00, avg 48.9, peak 92.7
	// cpu web2 window [00:20, 00:25): 30 points, newest 00:24:50, oldest 00:20:00, avg 50.0, peak 91.7
	// series of metric cpu: db1 (percent, 360 points) web1 (percent, 360 points) web2 (percent, 360 points)
	// expired 810 points before 00:45:00; Series[cpu, web2] keeps 90
}

// TestReopen runs the example twice on one directory: the second run
// reopens the stored schema and rewrites the same series.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		var out bytes.Buffer
		if err := Run(context.Background(), &out, dir); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out.String())
		}
	}
}
