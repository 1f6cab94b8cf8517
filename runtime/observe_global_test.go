package runtime_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// globalOTelEnv marks the child process of a test of otel's global
// providers (runInChild).
const globalOTelEnv = "PROTOQL_TEST_GLOBAL_OTEL"

// runInChild runs the test t alone in a child process, which installs
// otel's global providers: they cannot be uninstalled, so this process's
// global state is left alone.
func runInChild(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), globalOTelEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child process did not run the test:\n%s", out)
	}
}

// TestGlobalTracerInstalledLater opens a DB on otel's global providers
// while nothing is installed (so it starts no spans, see TestWriteAllocs),
// then installs an SDK with otel.SetTracerProvider and expects the DB's
// later calls to reach it as spans, children of the caller's span. otel's
// global provider cannot be uninstalled, so the test runs in a child
// process and leaves this one's global state alone.
func TestGlobalTracerInstalledLater(t *testing.T) {
	if os.Getenv(globalOTelEnv) == "" {
		runInChild(t)
		return
	}
	ctx := t.Context()
	db := openDB(t, memkv.New()) // no WithTracerProvider: otel's global one
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	check(t, users.Put(ctx, &testpb.User{UserId: "alice", Registered: 1}))

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	ctx, parent := tp.Tracer("test").Start(ctx, "caller")
	check(t, users.Row("alice").LastSeenUs().Set(ctx, 7))
	check(t, users.Put(ctx, &testpb.User{UserId: "bob", Registered: 2}))
	check(t, db.Update(ctx, func(tx *runtime.Tx) error { return nil }))
	parent.End()

	want := map[string]bool{"protoql.SetValue": false, "protoql.Put": false, "protoql.Update": false}
	for _, s := range spans.Ended() {
		if _, ok := want[s.Name()]; !ok {
			continue
		}
		if want[s.Name()] {
			t.Errorf("two %s spans; the Put before SetTracerProvider must have none", s.Name())
		}
		want[s.Name()] = true
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s span: parent %s, want the caller's span %s", s.Name(), s.Parent().SpanID(), parent.SpanContext().SpanID())
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("no %s span after otel.SetTracerProvider", name)
		}
	}
}

// TestGlobalMeterInstalledMidCall opens a DB on otel's global providers
// while nothing is installed, installs a meter SDK with
// otel.SetMeterProvider during an Update, and expects that Update to record
// no duration (its histogram was not enabled as it started, so its start
// was not timed: time.Since of a zero start is the largest Duration, about
// 292 years) and the next Update to record its own. Child process, as
// TestGlobalTracerInstalledLater.
func TestGlobalMeterInstalledMidCall(t *testing.T) {
	if os.Getenv(globalOTelEnv) == "" {
		runInChild(t)
		return
	}
	ctx := t.Context()
	db := openDB(t, memkv.New()) // no WithMeterProvider: otel's global one
	reader := sdkmetric.NewManualReader()
	check(t, db.Update(ctx, func(*runtime.Tx) error {
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
		return nil
	}))
	durations := func() []metricdata.HistogramDataPoint[float64] {
		var rm metricdata.ResourceMetrics
		check(t, reader.Collect(ctx, &rm))
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == "protoql.tx.duration" {
					h, ok := m.Data.(metricdata.Histogram[float64])
					if !ok {
						t.Fatalf("protoql.tx.duration: %#v, want a float64 histogram", m.Data)
					}
					return h.DataPoints
				}
			}
		}
		return nil
	}
	if ps := durations(); len(ps) != 0 {
		t.Fatalf("protoql.tx.duration after the Update that installed the SDK: %+v, want no point (its start was not timed)", ps)
	}
	check(t, db.Update(ctx, func(*runtime.Tx) error { return nil }))
	ps := durations()
	if len(ps) != 1 || ps[0].Count != 1 || !(ps[0].Sum > 0 && ps[0].Sum < 3600) {
		t.Fatalf("protoql.tx.duration after an Update made with the SDK installed: %+v, want one point of one duration", ps)
	}
}
