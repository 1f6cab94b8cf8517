package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

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
	for _, c := range []struct {
		opts runtime.ScanOptions
		want string
	}{
		{runtime.ScanOptions{}, "u0 u1 u2 u3 u4 u5"},
		{runtime.ScanOptions{Reverse: true}, "u5 u4 u3 u2 u1 u0"},
		{runtime.ScanOptions{After: db.ScanCursor(refs[2])}, "u3 u4 u5"},
		{runtime.ScanOptions{After: db.ScanCursor(refs[2]), Reverse: true}, "u1 u0"},
		{runtime.ScanOptions{After: db.ScanCursor(refs[2]), Limit: 2}, "u3 u4"},
		{runtime.ScanOptions{After: db.ScanCursor(refs[4]), Limit: 3, Reverse: true}, "u3 u2 u1"},
		{runtime.ScanOptions{After: db.ScanCursor(refs[5])}, ""},
		{runtime.ScanOptions{After: db.ScanCursor(refs[0]), Reverse: true}, ""},
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
	good := db.ScanCursor(refs[1])
	altered := []byte(good)
	altered[len(altered)/2] ^= 1
	if altered[len(altered)/2] == good[len(good)/2] {
		t.Fatal("no change")
	}
	q, err := query.Compile(db.Catalog(), `User { registered }`)
	check(t, err)
	var queryCursor string
	for r, err := range db.Query(ctx, q, nil) {
		check(t, err)
		queryCursor = r.Cursor
		break
	}
	for name, c := range map[string]string{
		"altered":      string(altered),
		"another DB's": other.ScanCursor(refs[1]),
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
	for _, err := range db.Scan(ctx, users, kr, runtime.ScanOptions{After: db.ScanCursor(refs[3])}) {
		check(t, err)
		n++
	}
	if n != 0 {
		t.Errorf("a cursor past the range resumed %d rows", n)
	}
}
