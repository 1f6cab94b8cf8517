package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// telemetry is a DB wired to in-memory OpenTelemetry exporters.
type telemetry struct {
	db     *runtime.DB
	store  *kvcount.Store
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
}

// newTelemetry opens a DB of the social schema (and whatever opts add)
// on store.
func newTelemetry(t *testing.T, store kv.Store, opts ...runtime.Option) *telemetry {
	t.Helper()
	tel := &telemetry{store: kvcount.New(store), spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tel.db = openDB(t, tel.store, append(tel.options(), opts...)...)
	return tel
}

// options are the Open options of a DB reporting to tel's exporters.
func (tel *telemetry) options() []runtime.Option {
	return []runtime.Option{runtime.WithTracerProvider(tel.tp), runtime.WithMeterProvider(tel.mp)}
}

// span returns the attributes of the only ended span named name.
func (tel *telemetry) span(t *testing.T, name string) (sdktrace.ReadOnlySpan, map[attribute.Key]attribute.Value) {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("got %d spans named %s, want 1", len(found), name)
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range found[0].Attributes() {
		attrs[kv.Key] = kv.Value
	}
	return found[0], attrs
}

// metric returns the metric named name.
func (tel *telemetry) metric(t *testing.T, name string) metricdata.Metrics {
	t.Helper()
	m, ok := tel.metricIf(t, name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return m
}

// metricIf returns the metric named name, and whether there is one.
func (tel *telemetry) metricIf(t *testing.T, name string) (metricdata.Metrics, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// histogram returns count and sum of the one data point of an int64
// histogram, checking its protoql.table attribute.
func histogram(t *testing.T, m metricdata.Metrics, table string) (uint64, int64) {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[int64])
	if !ok || len(h.DataPoints) != 1 {
		t.Fatalf("%s: got %#v, want one int64 histogram point", m.Name, m.Data)
	}
	p := h.DataPoints[0]
	if v, _ := p.Attributes.Value("protoql.table"); v.AsString() != table {
		t.Errorf("%s: protoql.table = %q, want %q", m.Name, v.AsString(), table)
	}
	return p.Count, p.Sum
}

// TestQueryTelemetry runs a query and checks its span and metrics against
// what a counting store saw reach it and the rows the caller received.
func TestQueryTelemetry(t *testing.T) {
	tel := newTelemetry(t, memkv.New())
	var users []*testpb.User
	for i := range 5 {
		users = append(users, &testpb.User{UserId: fmt.Sprintf("u%d", i), Registered: uint64(i),
			Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 1}, "s2": {ExpiresUs: 2}}})
	}
	for _, u := range users {
		querytest.Put(t, tel.db, u)
	}
	q, err := query.Compile(tel.db.Catalog(), `User["u1".."u4"] { registered, sessions { expires_us } }`)
	if err != nil {
		t.Fatal(err)
	}
	// Load the cursor secret first, so that the counted reads are the
	// query's own.
	if err := tel.db.View(t.Context(), func(tx *runtime.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for range tel.db.Query(t.Context(), q, nil, runtime.WithCursorKey(querytest.CursorKey)) {
	}
	tel.store.Reset()
	rows := 0
	for _, err := range tel.db.Query(t.Context(), q, nil, runtime.WithCursorKey(querytest.CursorKey)) {
		if err != nil {
			t.Fatal(err)
		}
		rows++
	}
	counted := tel.store.Counts()
	if rows != 3 || counted.KeysRead == 0 {
		t.Fatalf("got %d rows and %d keys read, want 3 rows and some keys", rows, counted.KeysRead)
	}

	var last sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.Name() == "protoql.Query" {
			last = s
		}
	}
	if last == nil {
		t.Fatal("no protoql.Query span")
	}
	got := map[attribute.Key]attribute.Value{}
	for _, kv := range last.Attributes() {
		got[kv.Key] = kv.Value
	}
	want := map[attribute.Key]int64{
		"protoql.rows": int64(rows), "protoql.keys_scanned": int64(counted.KeysRead), "protoql.bytes_scanned": int64(counted.BytesRead),
	}
	for k, v := range want {
		if got[k].AsInt64() != v {
			t.Errorf("span attribute %s = %v, want %d", k, got[k].String(), v)
		}
	}
	if got["protoql.table"].AsString() != "protoql.test.v1.User" {
		t.Errorf("span attribute protoql.table = %q", got["protoql.table"].String())
	}

	// Two queries ran: the warm-up and the counted one, which read the same.
	for name, want := range map[string]int64{
		"protoql.query.rows": int64(rows), "protoql.query.keys": int64(counted.KeysRead), "protoql.query.bytes": int64(counted.BytesRead),
	} {
		n, sum := histogram(t, tel.metric(t, name), "protoql.test.v1.User")
		if n != 2 || sum != 2*want {
			t.Errorf("%s: got %d points summing to %d, want 2 summing to %d", name, n, sum, 2*want)
		}
	}
}

// TestQueryLimitTelemetry checks that a query ended by a limit counts a
// limit hit and marks its span failed.
func TestQueryLimitTelemetry(t *testing.T) {
	tel := newTelemetry(t, memkv.New())
	for i := range 4 {
		querytest.Put(t, tel.db, &testpb.User{UserId: fmt.Sprintf("u%d", i)})
	}
	q, err := query.Compile(tel.db.Catalog(), `User { user_id }`)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	var limit *runtime.LimitError
	for _, err := range tel.db.Query(t.Context(), q, nil, runtime.WithLimits(query.Limits{MaxRows: 2})) {
		if err != nil && !errors.As(err, &limit) {
			t.Fatal(err)
		}
		if err == nil {
			rows++
		}
	}
	if limit == nil || rows != 2 {
		t.Fatalf("got %d rows and limit error %v, want 2 rows and a rows limit", rows, limit)
	}
	span, attrs := tel.span(t, "protoql.Query")
	if attrs["protoql.limit"].AsString() != "rows" || attrs["protoql.rows"].AsInt64() != 2 || span.Status().Code.String() != "Error" {
		t.Errorf("span: attributes %v, status %v; want protoql.limit=rows, protoql.rows=2, Error", attrs, span.Status())
	}
	hits, ok := tel.metric(t, "protoql.query.limit_hits").Data.(metricdata.Sum[int64])
	if !ok || len(hits.DataPoints) != 1 || hits.DataPoints[0].Value != 1 {
		t.Fatalf("protoql.query.limit_hits: got %#v, want one point of 1", hits)
	}
	if v, _ := hits.DataPoints[0].Attributes.Value("protoql.limit"); v.AsString() != "rows" {
		t.Errorf("protoql.query.limit_hits: protoql.limit = %q, want rows", v.AsString())
	}
}

// conflictingStore stands in for an engine whose Update retries
// conflicting transactions (kv.Store.Update may run fn more than once):
// the first `conflicts` runs of fn are rolled back as if their commit had
// conflicted, and after maxAttempts runs Update fails with kv.ErrConflict.
type conflictingStore struct {
	kv.Store
	conflicts, maxAttempts int
}

var errSimulatedConflict = errors.New("simulated conflict")

// openedStore returns a memkv store on which a DB was opened once, so that
// the metadata Open creates (the cursor secret) exists before a
// conflictingStore makes every Update conflict.
func openedStore(t *testing.T) kv.Store {
	t.Helper()
	s := memkv.New()
	openDB(t, s)
	return s
}

func (s *conflictingStore) Update(ctx context.Context, fn func(kv.Txn) error) error {
	for attempt := 1; ; attempt++ {
		err := s.Store.Update(ctx, func(txn kv.Txn) error {
			if err := fn(txn); err != nil {
				return err
			}
			if attempt <= s.conflicts {
				return errSimulatedConflict
			}
			return nil
		})
		switch {
		case !errors.Is(err, errSimulatedConflict):
			return err
		case attempt == s.maxAttempts:
			return fmt.Errorf("conflicting store: %d attempts: %w", attempt, kv.ErrConflict)
		}
	}
}

// TestUpdateTelemetry checks the span and metrics of an Update that the
// store ran twice, the first run conflicting.
func TestUpdateTelemetry(t *testing.T) {
	tel := newTelemetry(t, &conflictingStore{Store: openedStore(t), conflicts: 1, maxAttempts: 3})
	u := &testpb.User{UserId: "alice", Registered: 1}
	querytest.Put(t, tel.db, u)
	users, _ := tel.db.Table("User")
	ref, err := users.RowOf(u)
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	err = tel.db.Update(t.Context(), func(tx *runtime.Tx) error {
		runs++
		var got testpb.User
		if err := tx.Get(t.Context(), ref, &got); err != nil {
			return err
		}
		got.Registered++
		return tx.Put(t.Context(), ref, &got)
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Fatalf("the function ran %d times, want 2 (one conflict)", runs)
	}
	_, attrs := tel.span(t, "protoql.Update")
	if attrs["protoql.attempts"].AsInt64() != 2 {
		t.Errorf("protoql.Update span: protoql.attempts = %v, want 2", attrs["protoql.attempts"].String())
	}
	retries, ok := tel.metric(t, "protoql.tx.retries").Data.(metricdata.Sum[int64])
	if !ok || len(retries.DataPoints) != 1 || retries.DataPoints[0].Value != 1 {
		t.Errorf("protoql.tx.retries: got %#v, want one point of 1", retries)
	}
	attempts, ok := tel.metric(t, "protoql.tx.attempts").Data.(metricdata.Histogram[int64])
	if !ok || len(attempts.DataPoints) != 1 || attempts.DataPoints[0].Count != 1 || attempts.DataPoints[0].Sum != 2 {
		t.Errorf("protoql.tx.attempts: got %#v, want one Update of 2 attempts", attempts)
	}
	// The Put before the Update is a DB-level write, with a span and a
	// duration; the one inside is part of the transaction.
	tel.span(t, "protoql.Put")
	writes, ok := tel.metric(t, "protoql.write.duration").Data.(metricdata.Histogram[float64])
	if !ok || len(writes.DataPoints) != 1 || writes.DataPoints[0].Count != 1 {
		t.Fatalf("protoql.write.duration: got %#v, want one point counting 1 write", writes)
	}
	// Durations are timed from the call's start (the clock is read there
	// only when the histogram is enabled): one measured from a zero start
	// time would be the largest Duration, about 292 years.
	txs, ok := tel.metric(t, "protoql.tx.duration").Data.(metricdata.Histogram[float64])
	if !ok || len(txs.DataPoints) != 1 || txs.DataPoints[0].Count != 1 {
		t.Fatalf("protoql.tx.duration: got %#v, want one point counting 1 Update", txs)
	}
	for name, sum := range map[string]float64{"write": writes.DataPoints[0].Sum, "tx": txs.DataPoints[0].Sum} {
		if !(sum > 0 && sum < 3600) {
			t.Errorf("protoql.%s.duration: %v s, want the call's duration", name, sum)
		}
	}
}

// TestConflictTelemetry counts an Update that fails with ErrConflict once
// the store gives up retrying.
func TestConflictTelemetry(t *testing.T) {
	tel := newTelemetry(t, &conflictingStore{Store: openedStore(t), conflicts: 10, maxAttempts: 3})
	err := tel.db.Update(t.Context(), func(*runtime.Tx) error { return nil })
	if !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("got %v, want a conflict", err)
	}
	conflicts, ok := tel.metric(t, "protoql.tx.conflicts").Data.(metricdata.Sum[int64])
	if !ok || len(conflicts.DataPoints) != 1 || conflicts.DataPoints[0].Value != 1 {
		t.Errorf("protoql.tx.conflicts: got %#v, want one point of 1", conflicts)
	}
	retries, ok := tel.metric(t, "protoql.tx.retries").Data.(metricdata.Sum[int64])
	if !ok || len(retries.DataPoints) != 1 || retries.DataPoints[0].Value != 2 {
		t.Errorf("protoql.tx.retries: got %#v, want one point of 2", retries)
	}
	span, _ := tel.span(t, "protoql.Update")
	if span.Status().Code.String() != "Error" {
		t.Errorf("protoql.Update span status %v, want Error", span.Status())
	}
}
