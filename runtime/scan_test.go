package runtime_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// TestScanMapScalarEntryWithKeysBelow: a scalar map entry is one pair, so
// a key stored below it is corruption that ScanMap reports, naming that
// key, in both directions (the typed scans share the query executor's
// stepping, which must not skip what the schema says cannot be there).
func TestScanMapScalarEntryWithKeysBelow(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db := openDB(t, store)
	users := table(t, db, "User")
	u := &testpb.User{UserId: "c", Counters: map[string]int64{"a": 1, "b": 2, "c": 3}}
	row := must[runtime.Ref](t)(users.RowOf(u))
	check(t, db.Put(ctx, row, u))
	counters := must[runtime.Ref](t)(row.FieldByName("counters"))
	entry := must[runtime.Ref](t)(counters.Entry(str("b")))
	below := append(bytes.Clone(entry.Key()), 0x30)
	check(t, store.Update(ctx, func(txn kv.Txn) error { return txn.Set(below, []byte{0x10, 0x01}) }))
	for _, reverse := range []bool{false, true} {
		var got []string
		var err error
		for e, e2 := range db.ScanMap(ctx, counters, runtime.KeyRange{}, runtime.ScanOptions{Reverse: reverse}) {
			if e2 != nil {
				err = e2
				break
			}
			got = append(got, e.Key.String())
		}
		var ce *runtime.CorruptError
		if !errors.As(err, &ce) || !bytes.Equal(ce.Key, below) || !strings.Contains(err.Error(), "holds no keys below it") {
			t.Errorf("reverse=%v: got entries %v then %v, want a CorruptError naming %x", reverse, got, err, below)
		}
	}
}

// TestScanAfterAndLimitBothWays: After resumes strictly after a key in the
// scan's direction and Limit stops the scan, forward and reverse alike,
// over rows with children (so a row spans several keys).
func TestScanAfterAndLimitBothWays(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	var refs []runtime.Ref
	for i := range 6 {
		u := userWithSessions(fmt.Sprintf("u%d", i), 3)
		ref := must[runtime.Ref](t)(users.RowOf(u))
		check(t, db.Put(ctx, ref, u))
		refs = append(refs, ref)
	}
	ids := func(opts runtime.ScanOptions) string {
		var out []string
		for m, err := range db.Scan(ctx, users, runtime.KeyRange{}, opts) {
			check(t, err)
			u := m.(*testpb.User)
			if len(u.Sessions) != 3 {
				t.Errorf("%s read with %d sessions, want 3", u.UserId, len(u.Sessions))
			}
			out = append(out, u.UserId)
		}
		return strings.Join(out, " ")
	}
	cur := func(ref runtime.Ref) string { return must[string](t)(db.ScanCursor(ref)) }
	for _, c := range []struct {
		opts runtime.ScanOptions
		want string
	}{
		{runtime.ScanOptions{}, "u0 u1 u2 u3 u4 u5"},
		{runtime.ScanOptions{Reverse: true}, "u5 u4 u3 u2 u1 u0"},
		{runtime.ScanOptions{After: cur(refs[2])}, "u3 u4 u5"},
		{runtime.ScanOptions{After: cur(refs[2]), Reverse: true}, "u1 u0"},
		{runtime.ScanOptions{After: cur(refs[2]), Limit: 2}, "u3 u4"},
		{runtime.ScanOptions{After: cur(refs[4]), Limit: 3, Reverse: true}, "u3 u2 u1"},
		{runtime.ScanOptions{After: cur(refs[5])}, ""},
		{runtime.ScanOptions{After: cur(refs[0]), Reverse: true}, ""},
	} {
		if got := ids(c.opts); got != c.want {
			t.Errorf("Scan(reverse=%v, after=%q, limit=%d) = %q, want %q", c.opts.Reverse, c.opts.After, c.opts.Limit, got, c.want)
		}
	}
	sessions := must[runtime.Ref](t)(refs[0].FieldByName("sessions"))
	var keys []string
	for e, err := range db.ScanMap(ctx, sessions, runtime.KeyRange{}, runtime.ScanOptions{Reverse: true, Limit: 2}) {
		check(t, err)
		keys = append(keys, e.Key.String())
		if e.Value.Message().Get(e.Value.Message().Descriptor().Fields().ByName("device")).String() != "phone" {
			t.Errorf("entry %s read without its device", e.Key)
		}
	}
	if got := strings.Join(keys, " "); got != "session-02 session-01" {
		t.Errorf("reverse ScanMap with Limit 2 = %q, want %q", got, "session-02 session-01")
	}
}

// TestScanCursorChecked: ScanOptions.After takes only a scan cursor of this
// DB, unaltered; a query's cursor, another DB's, an altered one and text
// that is no cursor at all are refused with ErrInvalid and query.ErrCursor,
// and a cursor of a row outside the scan's range resumes nothing outside
// it.
func TestScanCursorChecked(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	other := openDB(t, memkv.New())
	users := table(t, db, "User")
	var refs []runtime.Ref
	for i := range 4 {
		u := userWithSessions(fmt.Sprintf("u%d", i), 1)
		ref := must[runtime.Ref](t)(users.RowOf(u))
		check(t, db.Put(ctx, ref, u))
		refs = append(refs, ref)
	}
	good := must[string](t)(db.ScanCursor(refs[1]))
	// Flip one bit of the decoded position, so the text still decodes and
	// only the tag can catch it.
	raw, err := base64.RawURLEncoding.DecodeString(good)
	check(t, err)
	raw[len(raw)/2] ^= 1
	altered := base64.RawURLEncoding.EncodeToString(raw)
	q, err := query.Compile(db.Catalog(), `User { registered }`)
	check(t, err)
	var queryCursor string
	for r, err := range db.Query(ctx, q, nil) {
		check(t, err)
		queryCursor = r.Cursor()
		break
	}
	// The same row key in another DB, signed by that DB.
	otherRef := must[runtime.Ref](t)(table(t, other, "User").Row(str("u1")))
	anotherDBs := must[string](t)(other.ScanCursor(otherRef))
	for name, c := range map[string]string{
		"altered":      altered,
		"another DB's": anotherDBs,
		"a query's":    queryCursor,
		"a raw key":    string(refs[1].Key()),
		"empty tag":    "Uw",
	} {
		var err error
		for _, e := range db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{After: c}) {
			if e != nil {
				err = e
				break
			}
		}
		if !errors.Is(err, runtime.ErrInvalid) || !errors.Is(err, query.ErrCursor) {
			t.Errorf("%s cursor: got %v, want ErrInvalid and query.ErrCursor", name, err)
		}
	}
	// A cursor of u3 given to a scan of [u0, u2) resumes after u3: nothing.
	kr := runtime.KeyRange{Lower: str("u0"), Upper: str("u2")}
	n := 0
	for _, err := range db.Scan(ctx, users, kr, runtime.ScanOptions{After: must[string](t)(db.ScanCursor(refs[3]))}) {
		check(t, err)
		n++
	}
	if n != 0 {
		t.Errorf("a cursor past the range resumed %d rows", n)
	}
}

// TestScanCursorOfAnotherKind: the cursor of a map entry given to a row
// scan would resume inside that entry's row, which would come back cut
// short as if whole; it is refused instead. Rows resumed with their own
// cursors come back whole.
func TestScanCursorOfAnotherKind(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users, err := testpb.NewUserTable(db)
	check(t, err)
	for i := range 3 {
		u := userWithSessions(fmt.Sprintf("u%d", i), 3)
		u.Registered = 7
		check(t, users.Put(ctx, u))
	}
	c, err := users.Row("u1").Sessions().Cursor("session-00")
	check(t, err)
	for u, err := range users.Scan(ctx, testpb.UserKeys(), runtime.ScanOptions{After: c}) {
		if err == nil {
			t.Fatalf("a row scan resumed from a map entry's cursor returned %s (registered %d, %d sessions)", u.GetUserId(), u.GetRegistered(), len(u.GetSessions()))
		}
		if !errors.Is(err, runtime.ErrInvalid) || !errors.Is(err, query.ErrCursor) {
			t.Fatalf("got %v, want ErrInvalid and query.ErrCursor", err)
		}
	}
	// A row's cursor given to a map scan is refused the same way.
	rc, err := users.Cursor(&testpb.User{UserId: "u0"})
	check(t, err)
	for _, err := range users.Row("u1").Sessions().Scan(ctx, runtime.ScanOptions{After: rc}) {
		if !errors.Is(err, query.ErrCursor) {
			t.Fatalf("a map scan resumed from a row's cursor: got %v, want query.ErrCursor", err)
		}
	}
	// ScanCursor refuses what a scan never returns, and a zero Ref.
	obj := must[runtime.Ref](t)(must[runtime.Ref](t)(table(t, db, "User").Row(str("u1"))).FieldByName("sessions"))
	if _, err := db.ScanCursor(obj); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("ScanCursor of a map: got %v, want ErrInvalid", err)
	}
	if _, err := db.ScanCursor(runtime.Ref{}); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("ScanCursor of a zero Ref: got %v, want ErrInvalid", err)
	}
}

// TestTypedReadsIgnoreQueryLimits: typed reads run on the pooled query
// executor, and must not inherit the read limits a query left on it.
func TestTypedReadsIgnoreQueryLimits(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	u := &testpb.User{UserId: "big", Registered: 1, Sessions: map[string]*testpb.Session{}}
	for i := range 50 {
		u.Sessions[bigSessionID(i)] = &testpb.Session{ExpiresUs: int64(i + 1)}
	}
	querytest.Put(t, db, u)
	users, err := testpb.NewUserTable(db)
	check(t, err)
	q := query.MustCompile(db.Catalog(), `User { registered }`)
	for i := range 20 {
		for range db.Query(ctx, q, nil, runtime.WithLimits(query.Limits{MaxKeys: 2})) {
		}
		got, err := users.Get(ctx, "big")
		if err != nil || len(got.GetSessions()) != 50 {
			t.Fatalf("iteration %d: Get after a limited query: %d sessions, %v", i, len(got.GetSessions()), err)
		}
		n := 0
		for _, err := range users.Row("big").Sessions().Scan(ctx, runtime.ScanOptions{}) {
			check(t, err)
			n++
		}
		if n != 50 {
			t.Fatalf("iteration %d: ScanMap after a limited query returned %d entries", i, n)
		}
	}
}

// TestScanEmptyRanges: a range whose lower bound is at or above its upper
// bound holds nothing, and Scan and ScanMap say so, in both directions and
// whichever way the rows are read (whole, backwards by the reverse walker
// itself, or projected): no row and no error, as for any other range with
// no keys in it. (A reverse whole scan must not open a walker over the
// inverted bounds, which the store refuses.)
func TestScanEmptyRanges(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	for i := range 4 {
		u := userWithSessions(fmt.Sprintf("u%d", i), 3)
		check(t, db.Put(ctx, must[runtime.Ref](t)(users.RowOf(u)), u))
	}
	row := must[runtime.Ref](t)(users.RowOf(&testpb.User{UserId: "u1"}))
	sessions := must[runtime.Ref](t)(row.FieldByName("sessions"))
	ranges := []runtime.KeyRange{
		{Lower: str("u3"), Upper: str("u1")},
		{Lower: str("u2"), Upper: str("u2")},
		{Lower: str("session-02"), Upper: str("session-00")},
		{Lower: str("session-01"), Upper: str("session-01")},
	}
	for _, kr := range ranges {
		for _, opts := range []runtime.ScanOptions{{}, {Reverse: true}, {Fields: []string{"registered"}}, {Fields: []string{"registered"}, Reverse: true}} {
			for m, err := range db.Scan(ctx, users, kr, opts) {
				t.Errorf("Scan(%v, reverse=%v, fields=%v) yielded %v, %v; want nothing", kr, opts.Reverse, opts.Fields, m, err)
			}
			if len(opts.Fields) > 0 {
				continue
			}
			for e, err := range db.ScanMap(ctx, sessions, kr, opts) {
				t.Errorf("ScanMap(%v, reverse=%v) yielded %v, %v; want nothing", kr, opts.Reverse, e.Key, err)
			}
		}
	}
}
