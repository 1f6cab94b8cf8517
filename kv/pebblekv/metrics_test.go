package pebblekv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// collect returns the int64 points of every pebble metric, summed over
// attributes, by name.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					got[m.Name] += p.Value
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name] += p.Value
				}
			}
		}
	}
	return got
}

func TestRegisterMetrics(t *testing.T) {
	s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	reg, err := s.RegisterMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	const flushes = 3
	for f := range flushes {
		b := kv.NewBatch()
		for i := range 100 {
			if err := b.Set(fmt.Appendf(nil, "k%d-%03d", f, i), make([]byte, 100)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Apply(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// Absent keys inside the flushed tables' ranges: their bloom filters
	// rule them out.
	const absent = 100
	for i := range absent {
		if _, err := s.Get(t.Context(), fmt.Appendf(nil, "k0-%03d+", i)); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get of an absent key: %v", err)
		}
	}
	got := collect(t, reader)
	for name, min := range map[string]int64{
		"pebble.filter.hits":    absent * 9 / 10,
		"pebble.flush.count":    flushes,
		"pebble.level.tables":   1,
		"pebble.level.size":     1,
		"pebble.disk.usage":     3 * 100 * 100,
		"pebble.wal.bytes_in":   3 * 100 * 100,
		"pebble.memtable.count": 1,
	} {
		if got[name] < min {
			t.Errorf("%s = %d, want at least %d (all: %v)", name, got[name], min, got)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, reader); len(got) != 0 {
		t.Errorf("after Close: got %v, want no observations", got)
	}
}
