package querytest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
)

// Differential runs random queries on random data through the executor
// and through the model, and requires the same results; each query is also
// run page by page (first: 1, after: the last cursor) and under random
// limits, resuming after each LimitError, and must return the same
// sequence. Each of the seeds seeds gets a store from store, a DB on it
// from open, data from data and 150 queries on the tables (nil: all of
// them).
func Differential(t *testing.T, seeds uint64, store func(t testing.TB, seed uint64) kv.Store, open func(testing.TB, kv.Store) *runtime.DB, data func(*rand.Rand) []proto.Message, tables []string) {
	t.Helper()
	for seed := range seeds {
		r := rand.New(rand.NewPCG(seed, 42))
		data := data(r)
		db := open(t, store(t, seed))
		Put(t, db, data...)
		model := newModel(data)
		var ts []*schema.Table
		for _, name := range tables {
			ts = append(ts, must[*schema.Table](t)(db.Catalog().Lookup(name)))
		}
		g := NewGen(r, db.Catalog(), ts...)
		for i := range 150 {
			text := g.Query()
			q, first, got := checkQuery(t, db, model, r, fmt.Sprintf("seed %d query %d", seed, i), text)
			limited(t, db, q, first, got, text, r)
		}
	}
}

// checkQuery compiles text, runs it with a random first (1 to 4, or
// unlimited), checks its results against model and pages through them
// with that first; it returns the query, the first and the results.
func checkQuery(t *testing.T, db *runtime.DB, model *model, r *rand.Rand, what, text string) (*query.Query, int, []runtime.Result) {
	t.Helper()
	q, err := query.Compile(db.Catalog(), text)
	if err != nil {
		t.Fatalf("%s: %s: %v", what, text, err)
	}
	first := 1 + r.IntN(4)
	if r.IntN(2) == 0 {
		first = 1 << 30
	}
	vars := map[string]any{"first": first, "after": ""}
	b, err := q.Bind(vars)
	check(t, err)
	want := model.eval(b)
	got, err := Collect(t, db, q, vars)
	if err != nil {
		t.Fatalf("%s: %s: %v", what, text, err)
	}
	sameResults(t, fmt.Sprintf("%s: %s (first %d)", what, text, first), want, got)
	paged(t, db, q, first, got, text)
	return q, first, got
}

func sameResults(t *testing.T, what string, want []proto.Message, got []runtime.Result) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d results, want %d:\ngot:  %s\nwant: %s", what, len(got), len(want), Texts(got), MsgTexts(want))
	}
	for i := range want {
		if !proto.Equal(want[i], got[i].Msg) {
			t.Fatalf("%s: result %d:\ngot:  %s\nwant: %s", what, i, Text(got[i].Msg.ProtoReflect()), Text(want[i].ProtoReflect()))
		}
	}
}

// paged re-runs q one row at a time, resuming with each result's cursor,
// and requires the unpaged sequence want.
func paged(t *testing.T, db *runtime.DB, q *query.Query, first int, want []runtime.Result, text string) {
	t.Helper()
	var got []runtime.Result
	after := ""
	for len(got) < first {
		page, err := Collect(t, db, q, map[string]any{"first": 1, "after": after})
		if err != nil {
			t.Fatalf("%s: page %d: %v", text, len(got), err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 1 {
			t.Fatalf("%s: page %d has %d results with first: 1", text, len(got), len(page))
		}
		got = append(got, page[0])
		after = page[0].Cursor()
	}
	if len(got) != len(want) {
		t.Fatalf("%s: paging returned %d results, want %d", text, len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(want[i].Msg, got[i].Msg) || want[i].Cursor() != got[i].Cursor() {
			t.Fatalf("%s: page %d: got %s, want %s", text, i, Text(got[i].Msg.ProtoReflect()), Text(want[i].Msg.ProtoReflect()))
		}
	}
}

// limited runs q under random limits, resuming after each LimitError
// (raising the limit when a single row needs more), and requires want.
func limited(t *testing.T, db *runtime.DB, q *query.Query, first int, want []runtime.Result, text string, r *rand.Rand) {
	t.Helper()
	lim := query.Limits{MaxRows: r.IntN(3), MaxKeys: r.IntN(40), MaxBytes: r.IntN(2000)}
	chunk := r.IntN(3) * r.IntN(200) // rows in pieces one time in three
	var got []runtime.Result
	after := ""
	for calls := 0; len(got) < first; calls++ {
		if calls > 1000 {
			t.Fatalf("%s: no progress under limits %+v", text, lim)
		}
		complete := len(got)
		if complete > 0 && got[complete-1].Partial {
			complete--
		}
		page, err := Collect(t, db, q, map[string]any{"first": first - complete, "after": after}, runtime.WithLimits(lim), runtime.WithRowChunk(chunk))
		got = JoinPartial(t, db, got, page)
		if len(page) > 0 {
			after = page[len(page)-1].Cursor()
		}
		var le *runtime.LimitError
		switch {
		case err == nil:
			if len(got) != len(want) {
				t.Fatalf("%s: under limits %+v: %d results, want %d", text, lim, len(got), len(want))
			}
			for i := range want {
				if !proto.Equal(want[i].Msg, got[i].Msg) {
					t.Fatalf("%s: under limits %+v: result %d: got %s, want %s", text, lim, i, Text(got[i].Msg.ProtoReflect()), Text(want[i].Msg.ProtoReflect()))
				}
			}
			return
		case !errors.As(err, &le) || !errors.Is(err, runtime.ErrLimit):
			t.Fatalf("%s: under limits %+v: %v", text, lim, err)
		case le.Cursor != after && !(le.Cursor == "" && len(got) == 0):
			t.Fatalf("%s: LimitError cursor %q is not the last result's %q", text, le.Cursor, after)
		}
		if len(page) == 0 {
			// One row needs more than the limit: raise it.
			lim.MaxKeys, lim.MaxBytes = 2*lim.MaxKeys+1, 2*lim.MaxBytes+1
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: under limits: %d results, want %d", text, len(got), len(want))
	}
}

// JoinPartial appends page to got, merging each result into the one
// before it when that one was cut short (Partial) and the result continues
// the same row; otherwise the cut row was complete after all.
func JoinPartial(t testing.TB, db *runtime.DB, got, page []runtime.Result) []runtime.Result {
	t.Helper()
	for _, r := range page {
		if len(got) > 0 && got[len(got)-1].Partial {
			last := &got[len(got)-1]
			last.Partial = false
			if bytes.Equal(RowKey(t, db, last.Msg), RowKey(t, db, r.Msg)) {
				runtime.MergeRow(last.Msg, r.Msg)
				merged := last.Msg
				*last = r // r's Partial and Cursor
				last.Msg = merged
				continue
			}
		}
		got = append(got, r)
	}
	return got
}
