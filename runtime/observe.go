package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
)

// Telemetry: the DB reports spans and metrics through the OpenTelemetry
// API. Without WithTracerProvider and WithMeterProvider it uses otel's
// global providers, which discard everything until the program installs an
// SDK (otel.SetTracerProvider, otel.SetMeterProvider); the cost is then a
// few nanoseconds per call (metrics are skipped when their instrument is
// not Enabled, span attributes when the span is not recording).
//
// Spans, named after the call: protoql.Query (attributes protoql.table,
// protoql.rows, protoql.keys_scanned, protoql.bytes_scanned and, when a
// limit ended it, protoql.limit), protoql.Put, protoql.Delete,
// protoql.DeleteRange, protoql.DeleteRows, protoql.SetValue,
// protoql.MutateInline (attributes protoql.table, protoql.attempts),
// protoql.Update and protoql.View (protoql.attempts). Failed calls carry
// the error and an Error status.
//
// Metrics (attribute protoql.table on query and write metrics, and
// protoql.outcome = ok, error, limit or conflict):
//
//	protoql.query.duration     s          histogram   per Query call
//	protoql.query.rows         {row}      histogram   root results returned
//	protoql.query.keys         {key}      histogram   keys scanned
//	protoql.query.bytes        By         histogram   key and value bytes scanned
//	protoql.query.limit_hits   {hit}      counter     Queries ended by a Limit (protoql.limit = rows, keys, bytes)
//	protoql.write.duration     s          histogram   per DB-level write (protoql.operation = put, delete, ...)
//	protoql.tx.duration        s          histogram   per Update or View (protoql.tx = update, view)
//	protoql.tx.attempts        {attempt}  histogram   runs of the function per Update and MutateInline
//	protoql.tx.retries         {retry}    counter     runs after the first (conflicts the store retried)
//	protoql.tx.conflicts       {conflict} counter     calls that failed with kv.ErrConflict after the store's retries

// instrumentation is the OpenTelemetry instrumentation scope of the runtime.
const instrumentation = "github.com/protoql/protoql/runtime"

// WithTracerProvider sends the DB's spans to tp instead of otel's global
// provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// WithMeterProvider sends the DB's metrics to mp instead of otel's global
// provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meterProvider = mp }
}

// observer holds the DB's tracer and instruments. It is safe for
// concurrent use.
type observer struct {
	tracer                           trace.Tracer
	queryDur                         metric.Float64Histogram
	queryRows, queryKeys, queryBytes metric.Int64Histogram
	limitHits                        metric.Int64Counter
	writeDur                         metric.Float64Histogram
	txDur                            metric.Float64Histogram
	txAttempts                       metric.Int64Histogram
	retries, conflicts               metric.Int64Counter
}

func newObserver(o *options) (*observer, error) {
	tp, mp := o.tracerProvider, o.meterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(instrumentation)
	ob := &observer{tracer: tp.Tracer(instrumentation)}
	var errs []error
	f64 := func(dst *metric.Float64Histogram, name, unit, desc string) {
		h, err := m.Float64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc))
		*dst = h
		errs = append(errs, err)
	}
	i64 := func(dst *metric.Int64Histogram, name, unit, desc string) {
		h, err := m.Int64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc))
		*dst = h
		errs = append(errs, err)
	}
	cnt := func(dst *metric.Int64Counter, name, unit, desc string) {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		*dst = c
		errs = append(errs, err)
	}
	f64(&ob.queryDur, "protoql.query.duration", "s", "Duration of protoql queries.")
	i64(&ob.queryRows, "protoql.query.rows", "{row}", "Root results returned by one query.")
	i64(&ob.queryKeys, "protoql.query.keys", "{key}", "Keys scanned by one query.")
	i64(&ob.queryBytes, "protoql.query.bytes", "By", "Key and value bytes scanned by one query.")
	cnt(&ob.limitHits, "protoql.query.limit_hits", "{hit}", "Queries ended by one of their limits.")
	f64(&ob.writeDur, "protoql.write.duration", "s", "Duration of DB-level writes.")
	f64(&ob.txDur, "protoql.tx.duration", "s", "Duration of Update and View transactions.")
	i64(&ob.txAttempts, "protoql.tx.attempts", "{attempt}", "Runs of a transaction's function, the first included.")
	cnt(&ob.retries, "protoql.tx.retries", "{retry}", "Runs of a transaction's function after a conflict.")
	cnt(&ob.conflicts, "protoql.tx.conflicts", "{conflict}", "Transactions that failed with a conflict after the store's retries.")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("runtime: creating OpenTelemetry instruments: %w", err)
	}
	return ob, nil
}

var (
	keyTable     = attribute.Key("protoql.table")
	keyOutcome   = attribute.Key("protoql.outcome")
	keyLimit     = attribute.Key("protoql.limit")
	keyOperation = attribute.Key("protoql.operation")
	keyTx        = attribute.Key("protoql.tx")
	keyAttempts  = attribute.Key("protoql.attempts")
)

// outcome classifies err for the protoql.outcome attribute.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrLimit):
		return "limit"
	case errors.Is(err, kv.ErrConflict):
		return "conflict"
	default:
		return "error"
	}
}

// endSpan records err on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(otelcodes.Error, err.Error())
	}
	span.End()
}

// queryObs observes one Query call. It belongs to the goroutine ranging
// over the query's results.
type queryObs struct {
	o     *observer
	ctx   context.Context
	span  trace.Span
	table string
	start time.Time
	rows  int
	keys  int
	bytes int
	err   error
}

func (o *observer) startQuery(ctx context.Context, q *query.Query) *queryObs {
	table := string(q.Plan().Table.Desc.FullName())
	ctx, span := o.tracer.Start(ctx, "protoql.Query", trace.WithSpanKind(trace.SpanKindInternal))
	return &queryObs{o: o, ctx: ctx, span: span, table: table, start: time.Now()}
}

// counting wraps a query's yield, counting the results and keeping the
// error that ends the sequence.
func (qo *queryObs) counting(yield func(Result, error) bool) func(Result, error) bool {
	return func(r Result, err error) bool {
		if err != nil {
			qo.err = err
		} else {
			qo.rows++
		}
		return yield(r, err)
	}
}

// scanned records what the execution read, before it is released.
func (qo *queryObs) scanned(e *exec) { qo.keys, qo.bytes = e.keys, e.bytes }

func (qo *queryObs) end() {
	o, ctx := qo.o, qo.ctx
	var le *LimitError
	limited := errors.As(qo.err, &le)
	if qo.span.IsRecording() {
		qo.span.SetAttributes(keyTable.String(qo.table), attribute.Int("protoql.rows", qo.rows),
			attribute.Int("protoql.keys_scanned", qo.keys), attribute.Int("protoql.bytes_scanned", qo.bytes))
		if limited {
			qo.span.SetAttributes(keyLimit.String(le.Limit))
		}
	}
	endSpan(qo.span, qo.err)
	if o.queryDur.Enabled(ctx) {
		o.queryDur.Record(ctx, time.Since(qo.start).Seconds(), metric.WithAttributes(keyTable.String(qo.table), keyOutcome.String(outcome(qo.err))))
	}
	attrs := metric.WithAttributes(keyTable.String(qo.table))
	if o.queryRows.Enabled(ctx) {
		o.queryRows.Record(ctx, int64(qo.rows), attrs)
	}
	if o.queryKeys.Enabled(ctx) {
		o.queryKeys.Record(ctx, int64(qo.keys), attrs)
	}
	if o.queryBytes.Enabled(ctx) {
		o.queryBytes.Record(ctx, int64(qo.bytes), attrs)
	}
	if limited && o.limitHits.Enabled(ctx) {
		o.limitHits.Add(ctx, 1, metric.WithAttributes(keyTable.String(qo.table), keyLimit.String(le.Limit)))
	}
}

// observeWrite runs a DB-level write under a span and the write metrics.
// attempts, when not nil, counts the runs of a transaction's function.
func (db *DB) observeWrite(ctx context.Context, op string, ref *Ref, write func(ctx context.Context, attempts *int) error) error {
	o := db.obs
	ctx, span := o.tracer.Start(ctx, spanNames[op])
	start := time.Now()
	attempts := 0
	err := write(ctx, &attempts)
	table := ""
	if ref != nil && ref.table != nil {
		table = string(ref.table.s.Desc.FullName())
	}
	if span.IsRecording() {
		span.SetAttributes(keyTable.String(table))
		if attempts > 0 {
			span.SetAttributes(keyAttempts.Int(attempts))
		}
	}
	endSpan(span, err)
	if o.writeDur.Enabled(ctx) {
		o.writeDur.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
			keyOperation.String(op), keyTable.String(table), keyOutcome.String(outcome(err))))
	}
	if attempts > 0 {
		o.txEnd(ctx, "mutate_inline", attempts, err)
	}
	return err
}

// spanNames maps write operations to their span names.
var spanNames = map[string]string{
	"put":           "protoql.Put",
	"delete":        "protoql.Delete",
	"delete_range":  "protoql.DeleteRange",
	"delete_rows":   "protoql.DeleteRows",
	"set_value":     "protoql.SetValue",
	"mutate_inline": "protoql.MutateInline",
}

// observeTx runs an Update (kind "update") or View under a span and the
// transaction metrics.
func (db *DB) observeTx(ctx context.Context, kind string, run func(ctx context.Context, attempts *int) error) error {
	o := db.obs
	name := "protoql.View"
	if kind == "update" {
		name = "protoql.Update"
	}
	ctx, span := o.tracer.Start(ctx, name)
	start := time.Now()
	attempts := 0
	err := run(ctx, &attempts)
	if span.IsRecording() {
		span.SetAttributes(keyAttempts.Int(attempts))
	}
	endSpan(span, err)
	if o.txDur.Enabled(ctx) {
		o.txDur.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(keyTx.String(kind), keyOutcome.String(outcome(err))))
	}
	if kind == "update" {
		o.txEnd(ctx, kind, attempts, err)
	}
	return err
}

// txEnd records the attempts, retries and conflict of a read-write
// transaction.
func (o *observer) txEnd(ctx context.Context, kind string, attempts int, err error) {
	attrs := metric.WithAttributes(keyTx.String(kind))
	if o.txAttempts.Enabled(ctx) {
		o.txAttempts.Record(ctx, int64(attempts), attrs)
	}
	if attempts > 1 && o.retries.Enabled(ctx) {
		o.retries.Add(ctx, int64(attempts-1), attrs)
	}
	if errors.Is(err, kv.ErrConflict) && o.conflicts.Enabled(ctx) {
		o.conflicts.Add(ctx, 1, attrs)
	}
}
