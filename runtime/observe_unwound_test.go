package runtime_test

import (
	"context"
	"iter"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/protoql/protoql/query"
	protoql "github.com/protoql/protoql/runtime"
)

// unwindBy is how a call of TestSpansEndWhenUnwound is left: a panic, or
// runtime.Goexit (what t.Fatal in a loop body does).
type unwindBy func()

func unwindPanic()  { panic("the caller's own panic") }
func unwindGoexit() { runtime.Goexit() }

// unwound runs call on a goroutine of its own, whose unwinding (a panic,
// recovered there, or a Goexit) ends it, and reports whether call
// returned normally.
func unwound(call func()) (returned bool) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { _ = recover() }()
		call()
		returned = true
	}()
	wg.Wait()
	return returned
}

// unwindAt is the element of a sequence on which the loop bodies of
// TestSpansEndWhenUnwound unwind: the second, so that the rows recorded
// tell the ones handed over before it from all or none.
const unwindAt = 2

// unwindOn ranges over seq, unwinding by unwind on its unwindAt-th
// element.
func unwindOn[V any](seq iter.Seq2[V, error], unwind unwindBy) {
	n := 0
	for range seq {
		if n++; n == unwindAt {
			unwind()
		}
	}
}

// TestSpansEndWhenUnwound: a call whose user code — an Update's or View's
// function, the loop body over a query's or a scan's sequence — panics or
// calls runtime.Goexit still ends its span, with an Error status that says
// so, and records its duration once. A DB-level scan unwound in its loop
// body records in protoql.read.rows the rows it handed over, the one the
// body unwound on among them (endRead): unwindAt, of a fixture with more.
func TestSpansEndWhenUnwound(t *testing.T) {
	cases := []struct {
		name   string
		span   string
		metric string
		scan   bool // a DB-level scan: it records unwindAt rows
		call   func(ctx context.Context, f *readFixture, unwind unwindBy)
	}{
		{"Update", "protoql.Update", "protoql.tx.duration", false, func(ctx context.Context, f *readFixture, unwind unwindBy) {
			_ = f.tel.db.Update(ctx, func(*protoql.Tx) error { unwind(); return nil })
		}},
		{"View", "protoql.View", "protoql.tx.duration", false, func(ctx context.Context, f *readFixture, unwind unwindBy) {
			_ = f.tel.db.View(ctx, func(*protoql.Tx) error { unwind(); return nil })
		}},
		{"TypedTable.Scan", "protoql.Scan", "protoql.read.duration", true, func(ctx context.Context, f *readFixture, unwind unwindBy) {
			unwindOn(f.users.Scan(ctx, nil, protoql.ScanOptions{}), unwind)
		}},
		{"TypedTable.Scan of fields", "protoql.Scan", "protoql.read.duration", true, func(ctx context.Context, f *readFixture, unwind unwindBy) {
			// The row plan's rows (registered is a field it decodes),
			// handed from the scan's emit to the loop body, each
			// counted before it is.
			unwindOn(f.users.Scan(ctx, nil, protoql.ScanOptions{Fields: []string{"registered"}}), unwind)
		}},
		{"Map Scan", "protoql.Scan", "protoql.read.duration", true, func(ctx context.Context, f *readFixture, unwind unwindBy) {
			unwindOn(f.users.Row("carol").Sessions().Scan(ctx, protoql.ScanOptions{}), unwind)
		}},
		{"TableIndex.Find", "protoql.Scan", "protoql.read.duration", true, func(ctx context.Context, f *readFixture, unwind unwindBy) {
			unwindOn(f.accounts.ByTag().Find(ctx, "t", protoql.ScanOptions{}), unwind)
		}},
		{"DB.Query", "protoql.Query", "protoql.query.duration", false, func(ctx context.Context, f *readFixture, unwind unwindBy) {
			q, err := query.Compile(f.tel.db.Catalog(), `User["a".."z"] { last_seen_us }`)
			if err != nil {
				panic(err)
			}
			unwindOn(f.tel.db.Query(ctx, q, nil), unwind)
		}},
	}
	for _, c := range cases {
		for _, by := range []struct {
			name   string
			unwind unwindBy
		}{{"panic", unwindPanic}, {"Goexit", unwindGoexit}} {
			t.Run(c.name+"/"+by.name, func(t *testing.T) {
				f := newReadFixture(t)
				if unwound(func() { c.call(t.Context(), f, by.unwind) }) {
					t.Fatal("the call returned: its user code did not run")
				}
				span, attrs := f.tel.span(t, c.span)
				if span.Status().Code.String() != "Error" || !strings.Contains(span.Status().Description, "unwound") {
					t.Errorf("%s span: status %v, want Error saying the call was unwound", c.span, span.Status())
				}
				if m, ok := f.tel.metricIf(t, c.metric); !ok || recordedOutcome(m, "error") != 1 {
					t.Errorf("%s: want one duration with outcome error recorded, got %v", c.metric, m)
				}
				if !c.scan {
					return
				}
				if n, sum := histogram(t, f.tel.metric(t, "protoql.read.rows"), attrs["protoql.table"].AsString()); n != 1 || sum != unwindAt {
					t.Errorf("protoql.read.rows: %d points summing to %d, want 1 of %d rows", n, sum, unwindAt)
				}
			})
		}
	}
}

// recordedOutcome returns how many values the float64 histogram m holds
// whose protoql.outcome is outcome.
func recordedOutcome(m metricdata.Metrics, outcome string) uint64 {
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		return 0
	}
	var n uint64
	for _, dp := range h.DataPoints {
		if v, ok := dp.Attributes.Value("protoql.outcome"); ok && v.AsString() == outcome {
			n += dp.Count
		}
	}
	return n
}
