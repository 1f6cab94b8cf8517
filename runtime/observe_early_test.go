package runtime_test

import (
	"maps"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/protoql/protoql/internal/testpb"
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
