package runtime_test

import (
	"errors"
	"maps"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// This file's name sorts before observe_global_test.go, whose test sets
// otel's global tracer provider for good: the test here runs first, while
// the DB's calls still have no span.
// TestUntracedWriteMetrics checks that with metrics on and tracing off
// (no tracer provider given, otel's global one never set: calls have no
// span), the blind writes of the typed setters (a breakout Set and
// Clear, written through kv.KeySetter on Pebble) are still timed, and
// that a read-modify-write still records its attempts when the write
// duration histogram is dropped (so the call is not timed).
func TestUntracedWriteMetrics(t *testing.T) {
	if _, set := otel.GetTracerProvider().(*sdktrace.TracerProvider); set {
		t.Log("otel's global tracer provider was set by an earlier test: the calls are traced")
	}
	for _, timed := range []bool{true, false} {
		reader := sdkmetric.NewManualReader()
		opts := []sdkmetric.Option{sdkmetric.WithReader(reader)}
		if !timed {
			opts = append(opts, sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "protoql.write.duration"},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}})))
		}
		tel := &telemetry{reader: reader}
		db := openDB(t, openPebble(t), runtime.WithMeterProvider(sdkmetric.NewMeterProvider(opts...)))
		users, err := testpb.NewUserTable(db)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if err := users.Row("alice").LastSeenUs().Set(ctx, 7); err != nil {
			t.Fatal(err)
		}
		if err := users.Row("alice").LastSeenUs().Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if err := users.Row("alice").Registered().Set(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if timed {
			counts := map[string]uint64{}
			writes, ok := tel.metric(t, "protoql.write.duration").Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("protoql.write.duration: got %#v", writes)
			}
			for _, p := range writes.DataPoints {
				op, _ := p.Attributes.Value("protoql.operation")
				counts[op.AsString()] += p.Count
			}
			want := map[string]uint64{"set_value": 1, "delete": 1, "update_inline": 1}
			if !maps.Equal(counts, want) {
				t.Errorf("protoql.write.duration counts by operation: %v, want %v", counts, want)
			}
			continue
		}
		attempts, ok := tel.metric(t, "protoql.tx.attempts").Data.(metricdata.Histogram[int64])
		if !ok || len(attempts.DataPoints) != 1 || attempts.DataPoints[0].Count != 1 || attempts.DataPoints[0].Sum != 1 {
			t.Errorf("protoql.tx.attempts: got %#v, want one read-modify-write of 1 attempt", attempts)
		}
	}
}

// TestUntracedReadMetrics checks that with metrics on and tracing off (as
// TestUntracedWriteMetrics: reads have no span), a Get, a missing Get and
// a Scan are still timed, and that a Scan still records its rows when the
// read duration histogram is dropped (so the call is not timed).
func TestUntracedReadMetrics(t *testing.T) {
	for _, timed := range []bool{true, false} {
		reader := sdkmetric.NewManualReader()
		opts := []sdkmetric.Option{sdkmetric.WithReader(reader)}
		if !timed {
			opts = append(opts, sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "protoql.read.duration"},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}})))
		}
		tel := &telemetry{reader: reader}
		db := openDB(t, memkv.New(), runtime.WithMeterProvider(sdkmetric.NewMeterProvider(opts...)))
		users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
		ctx := t.Context()
		check(t, users.Put(ctx, &testpb.User{UserId: "alice"}))
		_, err := users.Get(ctx, "alice")
		check(t, err)
		if _, err := users.Get(ctx, "bob"); !errors.Is(err, runtime.ErrNotFound) {
			t.Fatalf("Get of a missing row: %v, want ErrNotFound", err)
		}
		check(t, scanned(users.Scan(ctx, nil, runtime.ScanOptions{}), 1))
		if timed {
			counts := map[string]uint64{}
			durs, ok := tel.metric(t, "protoql.read.duration").Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("protoql.read.duration: got %#v", durs)
			}
			for _, p := range durs.DataPoints {
				op, _ := p.Attributes.Value("protoql.operation")
				out, _ := p.Attributes.Value("protoql.outcome")
				counts[op.AsString()+" "+out.AsString()] += p.Count
			}
			want := map[string]uint64{"get ok": 1, "get not_found": 1, "scan ok": 1}
			if !maps.Equal(counts, want) {
				t.Errorf("protoql.read.duration counts by operation and outcome: %v, want %v", counts, want)
			}
		}
		n, sum := histogram(t, tel.metric(t, "protoql.read.rows"), "protoql.test.v1.User")
		if n != 1 || sum != 1 {
			t.Errorf("timed %v: protoql.read.rows: %d points summing to %d, want 1 of 1 row", timed, n, sum)
		}
	}
}
