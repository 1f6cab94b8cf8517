package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// readFixture is what the read telemetry tests read: users and accounts
// (the social and the indexed schemas) on one DB.
type readFixture struct {
	tel      *telemetry
	users    testpb.UserTable
	accounts testpb.AccountTable
}

// Table names and index paths the read spans carry.
const (
	userTable    = "protoql.test.v1.User"
	accountTable = "protoql.test.v1.Account"
)

// account1 is the key of the first account of newReadFixture.
var account1 = testpb.AccountKey{Org: "o1", AccountId: 1}

// newReadFixture stores three users (alice, bob, carol: two sessions
// each, alice's last_seen_us 7) and three accounts (u1@x, u2@x, u3@x,
// all tagged t; the first with tasks a and b, slugs sa and sb).
func newReadFixture(t *testing.T) *readFixture {
	t.Helper()
	tel := newTelemetry(t, memkv.New(), runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))
	f := &readFixture{tel: tel, users: must[testpb.UserTable](t)(testpb.NewUserTable(tel.db)),
		accounts: must[testpb.AccountTable](t)(testpb.NewAccountTable(tel.db))}
	ctx := t.Context()
	for _, id := range []string{"alice", "bob", "carol"} {
		check(t, f.users.Put(ctx, &testpb.User{UserId: id, Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 1}, "s2": {ExpiresUs: 2}}}))
	}
	check(t, f.users.Row("alice").LastSeenUs().Set(ctx, 7))
	for i := range 3 {
		email, a := fmt.Sprintf("u%d@x", i+1), &testpb.Account{Org: "o1", AccountId: uint64(i + 1), Tags: []string{"t"}}
		a.Email = &email
		if i == 0 {
			sa, sb := "sa", "sb"
			a.Tasks = map[string]*testpb.Task{"a": {Slug: &sa}, "b": {Slug: &sb}}
		}
		check(t, f.accounts.Put(ctx, a))
	}
	return f
}

// countRows ranges over seq, stopping after stop elements (0: at its
// end), and returns how many it was given and its error.
func countRows[V any](seq iter.Seq2[V, error], stop int) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		if n++; n == stop {
			break
		}
	}
	return n, nil
}

// scanned ranges over seq to its end and checks that it was given want
// elements and no error.
func scanned[V any](seq iter.Seq2[V, error], want int) error {
	n, err := countRows(seq, 0)
	if err == nil && n != want {
		err = fmt.Errorf("got %d rows, want %d", n, want)
	}
	return err
}

// stoppedAfterOne ranges over seq and stops after its first element.
func stoppedAfterOne[V any](seq iter.Seq2[V, error]) error {
	n, err := countRows(seq, 1)
	if err == nil && n != 1 {
		err = fmt.Errorf("got %d rows, want 1", n)
	}
	return err
}

// corruptAccount stores, behind the DB's back, as the value of account
// a's row key a name that is not UTF-8 (field 5, bytes ff): well-formed
// protobuf, which the scan reads, that decoding the row then refuses.
func corruptAccount(ctx context.Context, f *readFixture, a *testpb.Account) error {
	ref, err := f.accounts.Table().RowOf(a)
	if err != nil {
		return err
	}
	b := kv.NewBatch()
	if err := b.Set(ref.Key(), []byte{0x2a, 0x01, 0xff}); err != nil {
		return err
	}
	return f.tel.store.Apply(ctx, b)
}

// TestReadTelemetry makes one DB-level typed read of each kind — point
// reads of a row, a breakout field, a map entry and through unique
// indexes (found, missing, failed), scans of rows, of a map and of an
// index (whole, stopped by the caller after one row, and failing on a
// corrupt row after one) — under a caller's span, and checks its one span
// (name, parent, attributes, status, ended) and its protoql.read.duration
// and protoql.read.rows data points.
func TestReadTelemetry(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		// base is the context the read's caller starts its span on (nil:
		// the test's).
		base  context.Context
		read  func(ctx context.Context, f *readFixture) error
		span  string
		op    string
		table string
		index string // protoql.index, "" for none
		rows  int64
		// outcome is the read's protoql.outcome; "error" also wants the
		// span's Error status and its exception event.
		outcome string
	}{
		{"TypedTable.Get", nil, func(ctx context.Context, f *readFixture) error {
			u, err := f.users.Get(ctx, "alice")
			if err == nil && u.GetLastSeenUs() != 7 {
				err = fmt.Errorf("got %v", u)
			}
			return err
		}, "protoql.Get", "get", userTable, "", 1, "ok"},
		{"TypedTable.Get of a missing row", nil, func(ctx context.Context, f *readFixture) error {
			if _, err := f.users.Get(ctx, "nobody"); !errors.Is(err, runtime.ErrNotFound) {
				return fmt.Errorf("got %v, want ErrNotFound", err)
			}
			return nil
		}, "protoql.Get", "get", userTable, "", 0, "not_found"},
		{"TypedTable.Get on a cancelled context", cancelled, func(ctx context.Context, f *readFixture) error {
			if _, err := f.users.Get(ctx, "alice"); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("got %v, want context.Canceled", err)
			}
			return nil
		}, "protoql.Get", "get", userTable, "", 0, "error"},
		{"Field.Get", nil, func(ctx context.Context, f *readFixture) error {
			v, err := f.users.Row("alice").LastSeenUs().Get(ctx)
			if err == nil && v != 7 {
				err = fmt.Errorf("got %d, want 7", v)
			}
			return err
		}, "protoql.Get", "get_value", userTable, "", 1, "ok"},
		{"ObjectMap.Get", nil, func(ctx context.Context, f *readFixture) error {
			s, err := f.users.Row("bob").Sessions().Get(ctx, "s2")
			if err == nil && s.GetExpiresUs() != 2 {
				err = fmt.Errorf("got %v", s)
			}
			return err
		}, "protoql.Get", "get", userTable, "", 1, "ok"},
		{"TypedTable.Scan", nil, func(ctx context.Context, f *readFixture) error {
			return scanned(f.users.Scan(ctx, nil, runtime.ScanOptions{}), 3)
		}, "protoql.Scan", "scan", userTable, "", 3, "ok"},
		{"TypedTable.Scan stopped after a row", nil, func(ctx context.Context, f *readFixture) error {
			return stoppedAfterOne(f.users.Scan(ctx, nil, runtime.ScanOptions{}))
		}, "protoql.Scan", "scan", userTable, "", 1, "ok"},
		{"TypedTable.Scan on a cancelled context", cancelled, func(ctx context.Context, f *readFixture) error {
			if _, err := countRows(f.users.Scan(ctx, nil, runtime.ScanOptions{}), 0); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("got %v, want context.Canceled", err)
			}
			return nil
		}, "protoql.Scan", "scan", userTable, "", 0, "error"},
		{"TypedTable.Scan failing on a corrupt row", nil, func(ctx context.Context, f *readFixture) error {
			// The row scan hands over the first account, then returns the
			// second's corruption error, which inView yields and records
			// as the read's.
			if err := corruptAccount(ctx, f, &testpb.Account{Org: "o1", AccountId: 2}); err != nil {
				return err
			}
			n, err := countRows(f.accounts.Scan(ctx, nil, runtime.ScanOptions{}), 0)
			var ce *runtime.CorruptError
			if n != 1 || !errors.As(err, &ce) {
				return fmt.Errorf("got %d rows and %v, want 1 row and a corruption error", n, err)
			}
			return nil
		}, "protoql.Scan", "scan", accountTable, "", 1, "error"},
		{"Map Scan", nil, func(ctx context.Context, f *readFixture) error {
			return scanned(f.users.Row("carol").Sessions().Scan(ctx, runtime.ScanOptions{}), 2)
		}, "protoql.Scan", "scan_map", userTable, "", 2, "ok"},
		{"TableIndex.Get", nil, func(ctx context.Context, f *readFixture) error {
			a, err := f.accounts.ByEmail().Get(ctx, "u2@x")
			if err == nil && a.GetAccountId() != 2 {
				err = fmt.Errorf("got %v", a)
			}
			return err
		}, "protoql.Get", "index_get", accountTable, "Account.by_email", 1, "ok"},
		{"TableIndex.Get of a missing value", nil, func(ctx context.Context, f *readFixture) error {
			if _, err := f.accounts.ByEmail().Get(ctx, "nobody@x"); !errors.Is(err, runtime.ErrNotFound) {
				return fmt.Errorf("got %v, want ErrNotFound", err)
			}
			return nil
		}, "protoql.Get", "index_get", accountTable, "Account.by_email", 0, "not_found"},
		{"TableIndex.Find", nil, func(ctx context.Context, f *readFixture) error {
			return scanned(f.accounts.ByTag().Find(ctx, "t", runtime.ScanOptions{}), 3)
		}, "protoql.Scan", "index_scan", accountTable, "Account.by_tag", 3, "ok"},
		{"TableIndex.Find failing on a corrupt row", nil, func(ctx context.Context, f *readFixture) error {
			// The scan hands over the first account, then fails decoding
			// the second, in emit: not handed over, so not counted
			// (indexCall.count takes it back).
			if err := corruptAccount(ctx, f, &testpb.Account{Org: "o1", AccountId: 2}); err != nil {
				return err
			}
			n, err := countRows(f.accounts.ByTag().Find(ctx, "t", runtime.ScanOptions{}), 0)
			var ce *runtime.CorruptError
			if n != 1 || !errors.As(err, &ce) {
				return fmt.Errorf("got %d rows and %v, want 1 row and a corruption error", n, err)
			}
			return nil
		}, "protoql.Scan", "index_scan", accountTable, "Account.by_tag", 1, "error"},
		{"TableIndex.Scan stopped after a row", nil, func(ctx context.Context, f *readFixture) error {
			return stoppedAfterOne(f.accounts.ByEmail().Scan(ctx, nil, runtime.ScanOptions{}))
		}, "protoql.Scan", "index_scan", accountTable, "Account.by_email", 1, "ok"},
		{"MapIndex.Get", nil, func(ctx context.Context, f *readFixture) error {
			e, err := f.accounts.Row(account1).TasksBySlug().Get(ctx, "sb")
			if err == nil && e.Key != "b" {
				err = fmt.Errorf("got entry %q, want b", e.Key)
			}
			return err
		}, "protoql.Get", "index_get", accountTable, "Account.tasks.by_slug", 1, "ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newReadFixture(t)
			tel := f.tel
			base := c.base
			if base == nil {
				base = t.Context()
			}
			ctx, caller := tel.tp.Tracer("test").Start(base, "caller")
			err := c.read(ctx, f)
			caller.End()
			check(t, err)

			span, attrs := tel.span(t, c.span)
			if started, ended := len(tel.spans.Started()), len(tel.spans.Ended()); started != ended {
				t.Errorf("%d spans started, %d ended", started, ended)
			}
			if span.Parent().SpanID() != caller.SpanContext().SpanID() {
				t.Errorf("%s span: parent %s, want the caller's span %s", c.span, span.Parent().SpanID(), caller.SpanContext().SpanID())
			}
			want := map[string]string{"protoql.table": c.table, "protoql.operation": c.op, "protoql.index": c.index}
			for k, v := range want {
				if got := attrs[attribute.Key(k)].AsString(); got != v {
					t.Errorf("%s span: %s = %q, want %q", c.span, k, got, v)
				}
			}
			if got := attrs["protoql.rows"]; got.Type() != attribute.INT64 || got.AsInt64() != c.rows {
				t.Errorf("%s span: protoql.rows = %s, want %d", c.span, got.String(), c.rows)
			}
			failed := c.outcome == "error"
			if got := span.Status().Code.String(); (got == "Error") != failed {
				t.Errorf("%s span: status %v, want Error: %v", c.span, span.Status(), failed)
			}
			if events := span.Events(); failed != (len(events) == 1 && events[0].Name == "exception") || !failed && len(events) != 0 {
				t.Errorf("%s span: events %v, want an exception: %v", c.span, events, failed)
			}

			durs, ok := tel.metric(t, "protoql.read.duration").Data.(metricdata.Histogram[float64])
			if !ok || len(durs.DataPoints) != 1 || durs.DataPoints[0].Count != 1 {
				t.Fatalf("protoql.read.duration: got %#v, want one point counting 1 read", durs)
			}
			p := durs.DataPoints[0]
			if !(p.Sum > 0 && p.Sum < 3600) {
				t.Errorf("protoql.read.duration: %v s, want the read's duration", p.Sum)
			}
			wantAttrs := map[string]string{"protoql.operation": c.op, "protoql.table": c.table, "protoql.outcome": c.outcome}
			if got := p.Attributes.Len(); got != len(wantAttrs) {
				t.Errorf("protoql.read.duration: %d attributes %v, want %v", got, p.Attributes.ToSlice(), wantAttrs)
			}
			for k, v := range wantAttrs {
				if got, _ := p.Attributes.Value(attribute.Key(k)); got.AsString() != v {
					t.Errorf("protoql.read.duration: %s = %q, want %q", k, got.AsString(), v)
				}
			}
			if c.span != "protoql.Scan" {
				if m, ok := tel.metricIf(t, "protoql.read.rows"); ok {
					t.Errorf("protoql.read.rows after a point read: %#v, want none", m.Data)
				}
				return
			}
			n, sum := histogram(t, tel.metric(t, "protoql.read.rows"), c.table)
			if n != 1 || sum != c.rows {
				t.Errorf("protoql.read.rows: %d points summing to %d, want 1 of %d", n, sum, c.rows)
			}
		})
	}
}

// TestTxReadTelemetry checks that reads on a Tx, in an Update and in a
// View, are part of the transaction's span and make no read span or
// duration of their own, while a read on the DB inside the Update's
// function, which does not join the transaction, is a call of its own:
// the one protoql.Get span and read duration.
func TestTxReadTelemetry(t *testing.T) {
	f := newReadFixture(t)
	tel := f.tel
	ctx := t.Context()
	txReads := func(tx *runtime.Tx) error {
		users, accounts := f.users.In(tx), f.accounts.In(tx)
		if _, err := users.Get(ctx, "alice"); err != nil {
			return err
		}
		if _, err := users.Get(ctx, "nobody"); !errors.Is(err, runtime.ErrNotFound) {
			return fmt.Errorf("Get of a missing row: got %v, want ErrNotFound", err)
		}
		if _, err := users.Row("alice").LastSeenUs().Get(ctx); err != nil {
			return err
		}
		if err := scanned(users.Scan(ctx, nil, runtime.ScanOptions{}), 3); err != nil {
			return err
		}
		if err := scanned(users.Row("bob").Sessions().Scan(ctx, runtime.ScanOptions{}), 2); err != nil {
			return err
		}
		if _, err := accounts.ByEmail().Get(ctx, "u1@x"); err != nil {
			return err
		}
		if _, err := accounts.Row(account1).TasksBySlug().Get(ctx, "sa"); err != nil {
			return err
		}
		return scanned(accounts.ByTag().Find(ctx, "t", runtime.ScanOptions{}), 3)
	}
	check(t, f.tel.db.View(ctx, txReads))
	check(t, f.tel.db.Update(ctx, func(tx *runtime.Tx) error {
		if err := txReads(tx); err != nil {
			return err
		}
		_, err := f.users.Get(ctx, "carol") // on the DB: not in tx
		return err
	}))
	tel.span(t, "protoql.View")
	tel.span(t, "protoql.Update")
	if _, attrs := tel.span(t, "protoql.Get"); attrs["protoql.rows"].AsInt64() != 1 {
		t.Errorf("protoql.Get span: protoql.rows = %s, want the DB-level Get's 1", attrs["protoql.rows"].String())
	}
	for _, s := range tel.spans.Ended() {
		if s.Name() == "protoql.Scan" {
			t.Errorf("a protoql.Scan span %v: a Tx's scans have none", s.Attributes())
		}
	}
	durs, ok := tel.metric(t, "protoql.read.duration").Data.(metricdata.Histogram[float64])
	if !ok || len(durs.DataPoints) != 1 || durs.DataPoints[0].Count != 1 {
		t.Errorf("protoql.read.duration: got %#v, want one point counting the DB-level Get", durs)
	}
	if m, ok := tel.metricIf(t, "protoql.read.rows"); ok {
		t.Errorf("protoql.read.rows: %#v, want none (a Tx's scans record none)", m.Data)
	}
}
