package runtime_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
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
// later calls (writes, a transaction, reads) to reach it as spans,
// children of the caller's span. otel's
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
	if _, err := users.Get(ctx, "alice"); err != nil {
		t.Fatal(err)
	}

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	ctx, parent := tp.Tracer("test").Start(ctx, "caller")
	check(t, users.Row("alice").LastSeenUs().Set(ctx, 7))
	check(t, users.Put(ctx, &testpb.User{UserId: "bob", Registered: 2}))
	check(t, db.Update(ctx, func(tx *runtime.Tx) error { return nil }))
	_, err := users.Get(ctx, "alice")
	check(t, err)
	check(t, scanned(users.Scan(ctx, nil, runtime.ScanOptions{}), 2))
	parent.End()

	want := map[string]bool{"protoql.SetValue": false, "protoql.Put": false, "protoql.Update": false, "protoql.Get": false, "protoql.Scan": false}
	for _, s := range spans.Ended() {
		if _, ok := want[s.Name()]; !ok {
			continue
		}
		if want[s.Name()] {
			t.Errorf("two %s spans; the Put and Get before SetTracerProvider must have none", s.Name())
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

// TestGlobalMeterInstalledMidQuery opens a DB on otel's global providers
// while nothing is installed (a Query then skips every metric with one
// check, observer.metered), runs a Query that installs a meter SDK with
// otel.SetMeterProvider as it receives its first row, and expects that
// Query to record its rows (checked as it ends, when the SDK is there)
// but no duration (not timed: nothing was installed as it started), and
// the next Query both. Child process, as TestGlobalTracerInstalledLater.
func TestGlobalMeterInstalledMidQuery(t *testing.T) {
	if os.Getenv(globalOTelEnv) == "" {
		runInChild(t)
		return
	}
	ctx := t.Context()
	db := openDB(t, memkv.New()) // no WithMeterProvider: otel's global one
	for i := range 3 {
		querytest.Put(t, db, &testpb.User{UserId: fmt.Sprintf("u%d", i), Registered: uint64(i)})
	}
	q := query.MustCompile(db.Catalog(), `User["u0".."u9"] { registered }`)
	reader := sdkmetric.NewManualReader()
	installed := false
	for _, err := range db.Query(ctx, q, nil) {
		check(t, err)
		if !installed {
			otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
			installed = true
		}
	}
	// points returns the data points of the histogram named name.
	points := func(name string) (n int, counts []uint64) {
		var rm metricdata.ResourceMetrics
		check(t, reader.Collect(ctx, &rm))
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != name {
					continue
				}
				switch h := m.Data.(type) {
				case metricdata.Histogram[int64]:
					for _, p := range h.DataPoints {
						n, counts = n+1, append(counts, p.Count)
					}
				case metricdata.Histogram[float64]:
					for _, p := range h.DataPoints {
						n, counts = n+1, append(counts, p.Count)
					}
				default:
					t.Fatalf("%s: %#v, want a histogram", name, m.Data)
				}
			}
		}
		return n, counts
	}
	if n, counts := points("protoql.query.rows"); n != 1 || counts[0] != 1 {
		t.Fatalf("protoql.query.rows after the Query that installed the SDK: %d points %v, want one of one Query", n, counts)
	}
	if n, _ := points("protoql.query.duration"); n != 0 {
		t.Fatalf("protoql.query.duration after the Query that installed the SDK: %d points, want none (its start was not timed)", n)
	}
	for _, err := range db.Query(ctx, q, nil) {
		check(t, err)
	}
	if n, counts := points("protoql.query.rows"); n != 1 || counts[0] != 2 {
		t.Fatalf("protoql.query.rows after the next Query: %d points %v, want one of two Queries", n, counts)
	}
	if n, counts := points("protoql.query.duration"); n != 1 || counts[0] != 1 {
		t.Fatalf("protoql.query.duration after the next Query: %d points %v, want one of one Query", n, counts)
	}
}

// TestGlobalTracerInstalledAfterKeySet and TestGlobalMeterInstalledAfterKeySet
// open a DB on Pebble (whose kv.KeySetter takes a breakout Set, which skips
// its call while otel's initial global providers are the global ones:
// observer.quiet) and install one SDK provider after a first Set, the
// other staying otel's initial one: the next Set must reach it, as a span
// or as a write duration. Child processes, as TestGlobalTracerInstalledLater.
func TestGlobalTracerInstalledAfterKeySet(t *testing.T) {
	if os.Getenv(globalOTelEnv) == "" {
		runInChild(t)
		return
	}
	spans := tracetest.NewSpanRecorder()
	keySetsAfterInstall(t, func() {
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	})
	n := 0
	for _, s := range spans.Ended() {
		if s.Name() == "protoql.SetValue" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d protoql.SetValue spans, want 1: the Set after otel.SetTracerProvider", n)
	}
}

func TestGlobalMeterInstalledAfterKeySet(t *testing.T) {
	if os.Getenv(globalOTelEnv) == "" {
		runInChild(t)
		return
	}
	reader := sdkmetric.NewManualReader()
	keySetsAfterInstall(t, func() {
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	})
	var rm metricdata.ResourceMetrics
	check(t, reader.Collect(t.Context(), &rm))
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "protoql.write.duration" {
				for _, p := range h.DataPoints {
					if op, _ := p.Attributes.Value("protoql.operation"); op.AsString() == "set_value" {
						n += p.Count
					}
				}
			}
		}
	}
	if n != 1 {
		t.Errorf("protoql.write.duration recorded %d set_value writes, want 1: the Set after otel.SetMeterProvider", n)
	}
}

// keySetsAfterInstall sets a breakout field through kv.KeySetter, calls
// install, and sets it again; both Sets must succeed and write.
func keySetsAfterInstall(t *testing.T, install func()) {
	t.Helper()
	ctx := t.Context()
	db := openDB(t, openPebble(t)) // no provider options: otel's global ones
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	check(t, users.Row("alice").LastSeenUs().Set(ctx, 7))
	install()
	check(t, users.Row("alice").LastSeenUs().Set(ctx, 8))
	if v, err := users.Row("alice").LastSeenUs().Get(ctx); err != nil || v != 8 {
		t.Fatalf("LastSeenUs after two Sets: %d, %v; want 8", v, err)
	}
}
