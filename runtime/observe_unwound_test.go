package runtime_test

import (
	"context"
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

// TestSpansEndWhenUnwound: a call whose user code — an Update's or View's
// function, the loop body over a query's or a scan's sequence — panics or
// calls runtime.Goexit still ends its span, with an Error status that says
// so, and records its duration.
func TestSpansEndWhenUnwound(t *testing.T) {
	cases := []struct {
		name   string
		span   string
		metric string
		call   func(ctx context.Context, f *readFixture, unwind unwindBy)
	}{
		{"Update", "protoql.Update", "protoql.tx.duration", func(ctx context.Context, f *readFixture, unwind unwindBy) {
			_ = f.tel.db.Update(ctx, func(*protoql.Tx) error { unwind(); return nil })
		}},
		{"View", "protoql.View", "protoql.tx.duration", func(ctx context.Context, f *readFixture, unwind unwindBy) {
			_ = f.tel.db.View(ctx, func(*protoql.Tx) error { unwind(); return nil })
		}},
		{"TypedTable.Scan", "protoql.Scan", "protoql.read.duration", func(ctx context.Context, f *readFixture, unwind unwindBy) {
			for range f.users.Scan(ctx, nil, protoql.ScanOptions{}) {
				unwind()
			}
		}},
		{"Map Scan", "protoql.Scan", "protoql.read.duration", func(ctx context.Context, f *readFixture, unwind unwindBy) {
			for range f.users.Row("carol").Sessions().Scan(ctx, protoql.ScanOptions{}) {
				unwind()
			}
		}},
		{"TableIndex.Find", "protoql.Scan", "protoql.read.duration", func(ctx context.Context, f *readFixture, unwind unwindBy) {
			for range f.accounts.ByTag().Find(ctx, "t", protoql.ScanOptions{}) {
				unwind()
			}
		}},
		{"DB.Query", "protoql.Query", "protoql.query.duration", func(ctx context.Context, f *readFixture, unwind unwindBy) {
			q, err := query.Compile(f.tel.db.Catalog(), `User["a".."z"] { last_seen_us }`)
			if err != nil {
				panic(err)
			}
			for range f.tel.db.Query(ctx, q, nil) {
				unwind()
			}
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
				span, _ := f.tel.span(t, c.span)
				if span.Status().Code.String() != "Error" || !strings.Contains(span.Status().Description, "unwound") {
					t.Errorf("%s span: status %v, want Error saying the call was unwound", c.span, span.Status())
				}
				if m, ok := f.tel.metricIf(t, c.metric); !ok || !recordedOutcome(m, "error") {
					t.Errorf("%s: no duration with outcome error recorded: %v", c.metric, m)
				}
			})
		}
	}
}

// recordedOutcome reports whether the float64 histogram m has a data
// point whose protoql.outcome is outcome.
func recordedOutcome(m metricdata.Metrics, outcome string) bool {
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		return false
	}
	for _, dp := range h.DataPoints {
		if v, ok := dp.Attributes.Value("protoql.outcome"); ok && v.AsString() == outcome && dp.Count > 0 {
			return true
		}
	}
	return false
}
