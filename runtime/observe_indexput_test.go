package runtime_test

import (
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/proto"

	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
)

// TestIndexedPutTelemetry checks that a Put of an indexed row, whose
// transaction runs through a pooled call (putCall) that counts its own
// attempts, reports the attempts the store ran: its span's
// protoql.attempts and the protoql.tx.attempts and retries metrics; a
// second Put, on a call from the pool, counts its own attempts only.
func TestIndexedPutTelemetry(t *testing.T) {
	s := memkv.New()
	querytest.OpenIndexed(t, s) // the metadata, before every Update conflicts
	tel := &telemetry{store: kvcount.New(&conflictingStore{Store: s, conflicts: 2, maxAttempts: 5}), spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tel.db = querytest.OpenIndexed(t, tel.store, tel.options()...)
	accounts := must[testpb.AccountTable](t)(testpb.NewAccountTable(tel.db))
	check(t, accounts.Put(t.Context(), &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("a@x")}))
	_, attrs := tel.span(t, "protoql.Put")
	if got := attrs["protoql.attempts"].AsInt64(); got != 3 {
		t.Errorf("protoql.Put span: protoql.attempts = %d, want 3 (two conflicts)", got)
	}
	attempts, ok := tel.metric(t, "protoql.tx.attempts").Data.(metricdata.Histogram[int64])
	if !ok || len(attempts.DataPoints) != 1 || attempts.DataPoints[0].Count != 1 || attempts.DataPoints[0].Sum != 3 {
		t.Errorf("protoql.tx.attempts: got %#v, want one Put of 3 attempts", attempts)
	}
	retries, ok := tel.metric(t, "protoql.tx.retries").Data.(metricdata.Sum[int64])
	if !ok || len(retries.DataPoints) != 1 || retries.DataPoints[0].Value != 2 {
		t.Errorf("protoql.tx.retries: got %#v, want one point of 2", retries)
	}
	check(t, accounts.Put(t.Context(), &testpb.Account{Org: "o", AccountId: 2, Email: proto.String("b@x")}))
	attempts, ok = tel.metric(t, "protoql.tx.attempts").Data.(metricdata.Histogram[int64])
	if !ok || len(attempts.DataPoints) != 1 || attempts.DataPoints[0].Count != 2 || attempts.DataPoints[0].Sum != 6 {
		t.Errorf("protoql.tx.attempts after a second Put: got %#v, want two Puts of 3 attempts", attempts)
	}
}
