package runtime

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

// Telemetry: the DB reports spans and metrics through the OpenTelemetry
// API. Without WithTracerProvider and WithMeterProvider it uses otel's
// global providers, which discard everything until the program installs an
// SDK (otel.SetTracerProvider, otel.SetMeterProvider), before or after
// Open; the cost is then a few nanoseconds per call and no allocation:
// while otel's global tracer provider is still otel's initial one (nothing
// installed), the DB starts no span at all; while otel's global meter
// provider is still its initial one, one check skips every metric of a
// query; otherwise metrics are skipped when their
// instrument is not Enabled (a duration also when its histogram was not
// enabled as the call started, as the clock is read only then), and span
// attributes when the span is not recording. (So spans that only otel's
// automatic, eBPF-based instrumentation would record without an installed
// provider are not made.)
//
// Spans, named after the call: protoql.Query (attributes protoql.table,
// protoql.rows, protoql.keys_scanned, protoql.bytes_scanned and, when a
// limit ended it, protoql.limit), protoql.Put, protoql.Delete,
// protoql.DeleteRange, protoql.DeleteRows, protoql.SetValue,
// protoql.UpdateInline (attributes protoql.table, protoql.attempts),
// protoql.Update and protoql.View (protoql.attempts), and the DB-level
// reads (see readOp): protoql.Get and protoql.Scan (attributes
// protoql.table, protoql.operation, protoql.rows and, for an index's,
// protoql.index). Failed calls carry the error and an Error status; a
// Get of something missing (ErrNotFound) is no failure: its span has
// protoql.rows = 0 and no error, its duration protoql.outcome =
// not_found. Reads on a Tx are part of its transaction's span.
//
// Metrics (attribute protoql.table on query, write and read metrics, and
// protoql.outcome = ok, error, limit, conflict or, for reads, not_found):
//
//	protoql.query.duration     s          histogram   per Query call
//	protoql.query.rows         {row}      histogram   root results returned
//	protoql.query.keys         {key}      histogram   keys scanned
//	protoql.query.bytes        By         histogram   key and value bytes scanned
//	protoql.query.limit_hits   {hit}      counter     Queries ended by a Limit (protoql.limit = rows, keys, bytes)
//	protoql.write.duration     s          histogram   per DB-level write (protoql.operation = put, delete, ...)
//	protoql.read.duration      s          histogram   per DB-level read (protoql.operation = get, scan, ...)
//	protoql.read.rows          {row}      histogram   rows or entries returned per DB-level scan
//	protoql.tx.duration        s          histogram   per Update or View (protoql.tx = update, view)
//	protoql.tx.attempts        {attempt}  histogram   runs of the function per Update and UpdateInline
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
	tracer trace.Tracer
	// unset, when not nil, is otel's initial global tracer provider, which
	// tracer came from: while otel.GetTracerProvider still returns it,
	// nothing records spans and start makes none (see initialTracerProvider).
	unset trace.TracerProvider
	// unsetMeter, when not nil, is otel's initial global meter provider,
	// which the instruments came from: while otel.GetMeterProvider still
	// returns it, every instrument is disabled (see metered).
	unsetMeter                       metric.MeterProvider
	queryDur                         metric.Float64Histogram
	queryRows, queryKeys, queryBytes metric.Int64Histogram
	limitHits                        metric.Int64Counter
	writeDur                         metric.Float64Histogram
	readDur                          metric.Float64Histogram
	readRows                         metric.Int64Histogram
	txDur                            metric.Float64Histogram
	txAttempts                       metric.Int64Histogram
	retries, conflicts               metric.Int64Counter
}

func newObserver(o *options) (*observer, error) {
	tp, mp := o.tracerProvider, o.meterProvider
	var unset trace.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
		if tp == initialTracerProvider {
			unset = tp
		}
	}
	var unsetMeter metric.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
		if mp == initialMeterProvider {
			unsetMeter = mp
		}
	}
	m := mp.Meter(instrumentation)
	ob := &observer{tracer: tp.Tracer(instrumentation), unset: unset, unsetMeter: unsetMeter}
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
	f64(&ob.readDur, "protoql.read.duration", "s", "Duration of DB-level reads: Get, GetValue, scans and index reads.")
	i64(&ob.readRows, "protoql.read.rows", "{row}", "Rows or map entries returned by one DB-level scan.")
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
	keyRows      = attribute.Key("protoql.rows")
	keyIndex     = attribute.Key("protoql.index")
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

// errUnwound is the error a call's span and metrics record when the call
// was unwound by a panic or runtime.Goexit before it ended: in the
// function of an Update or View, or in the caller's loop body over a
// query's or a scan's sequence (a test's t.Fatal is a Goexit). The span
// is ended all the same, and the panic goes on.
var errUnwound = errors.New("runtime: the call was unwound by a panic or runtime.Goexit before it ended")

// endSpan records err on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(otelcodes.Error, err.Error())
	}
	span.End()
}

// call is one observed call: its span and start time. It is a value, so
// that observing allocates nothing beyond the span.
type call struct {
	span  trace.Span
	start time.Time
	// spanned says span was started (not noSpan), so that a call with
	// nothing to record ends without looking at it (endWrite).
	spanned bool
}

// initialTracerProvider is otel's initial global tracer provider, or nil
// when a provider had been installed before this package was initialised.
// That initial provider discards every span until otel.SetTracerProvider
// installs another one (which from then on is what otel.GetTracerProvider
// returns; the initial one then forwards its tracers' spans to it), yet its
// spans cost allocations (the span and its context). otel has no API that
// says whether it is still the initial provider; its type, unexported in
// otel's internal/global package, says so.
var initialTracerProvider = func() trace.TracerProvider {
	if tp := otel.GetTracerProvider(); otelInitial(tp, "tracerProvider") {
		return tp
	}
	return nil
}()

// initialMeterProvider is otel's initial global meter provider, or nil
// when a provider had been installed before this package was initialised.
// Its instruments are disabled until otel.SetMeterProvider installs
// another one (and delegates them to it). As for initialTracerProvider,
// only its type, unexported in otel's internal/global package, says so.
var initialMeterProvider = func() metric.MeterProvider {
	if mp := otel.GetMeterProvider(); otelInitial(mp, "meterProvider") {
		return mp
	}
	return nil
}()

// otelInitial reports whether p is one of otel's initial global providers:
// a pointer to the type name of otel's internal/global package.
func otelInitial(p any, name string) bool {
	t := reflect.TypeOf(p)
	return t != nil && t.Kind() == reflect.Pointer &&
		t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global" && t.Elem().Name() == name
}

// metered reports whether the instruments may be enabled: false while
// they came from otel's initial global meter provider (observer.unsetMeter)
// and it is still the global one, as nothing is then installed for them
// to delegate to. One check then stands for every instrument's Enabled.
func (o *observer) metered() bool {
	return o.unsetMeter == nil || otel.GetMeterProvider() != o.unsetMeter
}

// traced reports whether a call started now gets a span: false while the
// tracer came from otel's initial global tracer provider
// (observer.unset) and it is still the global one.
func (o *observer) traced() bool {
	return o.unset == nil || otel.GetTracerProvider() != o.unset
}

// quiet reports whether a call started now would record nothing: no
// span (traced is false) and no instrument can be enabled (metered is
// false). A caller on a hot path that would otherwise start a call and
// end it with nothing to record (endWrite's first test) asks quiet first
// and skips both: the two checks start makes, without building,
// returning and passing on the call.
func (o *observer) quiet() bool {
	return !o.traced() && !o.metered()
}

// noSpan stands in for the span of a call that nothing records.
var noSpan = trace.SpanFromContext(context.Background())

// start begins a call's span; while otel's initial global provider is
// still the global one (see observer.unset), the call has no span. It
// reads the clock only when dur, the call's duration histogram, is
// enabled: a clock read costs 0.1-0.2 µs on some virtual machines, a
// tenth of a blind write's own cost, and nothing may want the duration.
func (o *observer) start(ctx context.Context, name string, dur metric.Float64Histogram) (context.Context, call) {
	c := call{span: noSpan}
	if o.traced() {
		ctx, c.span = o.tracer.Start(ctx, name)
		c.spanned = true
	}
	if o.metered() && dur.Enabled(ctx) {
		c.start = time.Now()
	}
	return ctx, c
}

// since returns the duration of c, and whether it was timed: a call's
// duration histogram is recorded only if it was enabled when the call
// started (start reads the clock only then) and still is.
func (c call) since(ctx context.Context, dur metric.Float64Histogram) (float64, bool) {
	if c.start.IsZero() || !dur.Enabled(ctx) {
		return 0, false
	}
	return time.Since(c.start).Seconds(), true
}

// endQuery ends a Query call that ran e (nil when it failed before
// running) and returned err; errStopped (the caller stopped ranging) is no
// error.
func (o *observer) endQuery(ctx context.Context, c call, q *query.Query, e *exec, err error) {
	if !c.spanned && !o.metered() {
		return // no span, and no instrument can be enabled: nothing to record
	}
	if errors.Is(err, errStopped) {
		err = nil
	}
	var rows, keys, bytes int
	if e != nil {
		rows, keys, bytes = e.rows, e.keys, e.bytes
	}
	table := string(q.Plan().Table.Desc.FullName())
	limit := ""
	if err != nil {
		limit = limitOf(err)
	}
	if c.span.IsRecording() {
		c.span.SetAttributes(keyTable.String(table), attribute.Int("protoql.rows", rows),
			attribute.Int("protoql.keys_scanned", keys), attribute.Int("protoql.bytes_scanned", bytes))
		if limit != "" {
			c.span.SetAttributes(keyLimit.String(limit))
		}
	}
	endSpan(c.span, err)
	if d, ok := c.since(ctx, o.queryDur); ok {
		o.queryDur.Record(ctx, d, metric.WithAttributes(keyTable.String(table), keyOutcome.String(outcome(err))))
	}
	for _, m := range []struct {
		h metric.Int64Histogram
		v int
	}{{o.queryRows, rows}, {o.queryKeys, keys}, {o.queryBytes, bytes}} {
		if m.h.Enabled(ctx) {
			m.h.Record(ctx, int64(m.v), metric.WithAttributes(keyTable.String(table)))
		}
	}
	if limit != "" && o.limitHits.Enabled(ctx) {
		o.limitHits.Add(ctx, 1, metric.WithAttributes(keyTable.String(table), keyLimit.String(limit)))
	}
}

// limitOf returns the limit that ended a query with err, or "".
func limitOf(err error) string {
	var le *LimitError
	if errors.As(err, &le) {
		return le.Limit
	}
	return ""
}

// endWrite ends a DB-level write of op on ref's table; attempts counts the
// runs of a transaction's function (0 for a batch).
func (o *observer) endWrite(ctx context.Context, c call, op string, ref *Ref, attempts int, err error) {
	if !c.spanned && c.start.IsZero() && attempts == 0 {
		return // no span, not timed, no transaction: nothing to record
	}
	table := ""
	if ref != nil && ref.table != nil {
		table = string(ref.table.s.Desc.FullName())
	}
	if c.span.IsRecording() {
		c.span.SetAttributes(keyTable.String(table))
		if attempts > 0 {
			c.span.SetAttributes(keyAttempts.Int(attempts))
		}
	}
	endSpan(c.span, err)
	if d, ok := c.since(ctx, o.writeDur); ok {
		o.writeDur.Record(ctx, d, metric.WithAttributes(
			keyOperation.String(op), keyTable.String(table), keyOutcome.String(outcome(err))))
	}
	if attempts > 0 {
		o.txEnd(ctx, op, attempts, err)
	}
}

// endTx ends an Update (kind "update") or View.
func (o *observer) endTx(ctx context.Context, c call, kind string, attempts int, err error) {
	if c.span.IsRecording() {
		c.span.SetAttributes(keyAttempts.Int(attempts))
	}
	endSpan(c.span, err)
	if d, ok := c.since(ctx, o.txDur); ok {
		o.txDur.Record(ctx, d, metric.WithAttributes(keyTx.String(kind), keyOutcome.String(outcome(err))))
	}
	if kind == "update" {
		o.txEnd(ctx, kind, attempts, err)
	}
}

// txEnd records the attempts, retries and conflict of a read-write
// transaction.
func (o *observer) txEnd(ctx context.Context, kind string, attempts int, err error) {
	if o.txAttempts.Enabled(ctx) {
		o.txAttempts.Record(ctx, int64(attempts), metric.WithAttributes(keyTx.String(kind)))
	}
	if attempts > 1 && o.retries.Enabled(ctx) {
		o.retries.Add(ctx, int64(attempts-1), metric.WithAttributes(keyTx.String(kind)))
	}
	if errors.Is(err, kv.ErrConflict) && o.conflicts.Enabled(ctx) {
		o.conflicts.Add(ctx, 1, metric.WithAttributes(keyTx.String(kind)))
	}
}

// readOp is a kind of DB-level read: a point read (Get, GetValue, a
// unique index's Get) or a scan (of rows, of a map's entries, of an
// index). It names the read's span and its protoql.operation.
type readOp uint8

const (
	readGet       readOp = iota // DB.Get: a row, an object, a message map entry
	readGetValue                // DB.GetValue: a breakout field, a scalar map entry
	readIndexGet                // a unique index's Get
	readScan                    // DB.Scan and the typed table scans
	readScanMap                 // DB.ScanMap and the typed map scans
	readIndexScan               // an index's Find and Scan
)

// String returns op's protoql.operation.
func (op readOp) String() string {
	return [...]string{"get", "get_value", "index_get", "scan", "scan_map", "index_scan"}[op]
}

// point reports whether op reads one thing (at most one row).
func (op readOp) point() bool { return op <= readIndexGet }

// span returns the name of op's span.
func (op readOp) span() string {
	if op.point() {
		return "protoql.Get"
	}
	return "protoql.Scan"
}

// startRead begins a DB-level read of op (see start).
func (o *observer) startRead(ctx context.Context, op readOp) (context.Context, call) {
	return o.start(ctx, op.span(), o.readDur)
}

// endRead ends a DB-level read of op on table t or, when t is nil, on
// index ix's table, that returned rows rows (a point read: 1 when it
// found what it read) and err. A scan's rows are those it handed to the
// caller's loop body, each counted before it is handed over, in a
// variable the scan's deferred call of endRead reads: when that body
// panics or calls runtime.Goexit (err is then errUnwound), the rows
// given to it so far are recorded, the one it was unwound on among them,
// as when it had stopped there. A point read that found nothing — err
// wrapping ErrNotFound, or no error and no row (an index Get, whose
// caller makes the error) — is a miss, not a failure: its span carries
// no error, and its outcome is not_found, as key-value clients report a
// miss.
func (o *observer) endRead(ctx context.Context, c call, op readOp, t *Table, ix *schema.Index, rows int, err error) {
	if !c.spanned && c.start.IsZero() && (op.point() || !o.metered()) {
		return // no span, not timed, no rows histogram: nothing to record
	}
	out := outcome(err)
	switch {
	case op.point() && (errors.Is(err, ErrNotFound) || (err == nil && rows == 0)):
		out, rows, err = "not_found", 0, nil
	case op.point() && err != nil:
		rows = 0
	}
	table := ""
	switch {
	case t != nil:
		table = string(t.s.Desc.FullName())
	case ix != nil:
		table = string(ix.Table.Desc.FullName())
	}
	if c.span.IsRecording() {
		c.span.SetAttributes(keyTable.String(table), keyOperation.String(op.String()), keyRows.Int(rows))
		if ix != nil {
			c.span.SetAttributes(keyIndex.String(ix.Path()))
		}
	}
	endSpan(c.span, err)
	if d, ok := c.since(ctx, o.readDur); ok {
		o.readDur.Record(ctx, d, metric.WithAttributes(
			keyOperation.String(op.String()), keyTable.String(table), keyOutcome.String(out)))
	}
	if !op.point() && o.readRows.Enabled(ctx) {
		o.readRows.Record(ctx, int64(rows), metric.WithAttributes(keyOperation.String(op.String()), keyTable.String(table)))
	}
}

// spanNames maps the batch writes to their span names.
var spanNames = map[string]string{
	"put":          "protoql.Put",
	"delete":       "protoql.Delete",
	"delete_range": "protoql.DeleteRange",
	"delete_rows":  "protoql.DeleteRows",
	"set_value":    "protoql.SetValue",
}
