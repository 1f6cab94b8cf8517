package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// onlyFields returns u with every field cleared but user_id (the key) and
// the named ones: what a scan with ScanOptions.Fields must return.
func onlyFields(u *testpb.User, fields []string) *testpb.User {
	c := proto.Clone(u).(*testpb.User)
	m := c.ProtoReflect()
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if fd.Name() != "user_id" && !slices.Contains(fields, string(fd.Name())) {
			m.Clear(fd)
		}
		return true
	})
	return c
}

// TestScanFields checks the projected typed scan against whole rows with
// the other fields cleared, in both directions, with limits and cursors,
// and that it seeks past the maps it does not read.
func TestScanFields(t *testing.T) {
	ctx := context.Background()
	landed := 0
	db := openDB(t, countingStore{memkv.New(), &landed})
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	var want []*testpb.User
	for i := range 12 {
		u := fullUser(fmt.Sprintf("u%02d", i))
		for j := range 40 {
			u.Sessions[fmt.Sprintf("x%02d", j)] = &testpb.Session{ExpiresUs: int64(j), Device: "d"}
		}
		if i%3 == 0 {
			u.Password, u.Threads, u.Profile = nil, nil, nil // absent children
		}
		check(t, users.Put(ctx, u))
		want = append(want, u)
	}
	lists := [][]string{
		{"last_seen_us"},
		{"registered"},
		{"sessions"},
		{"registered", "threads", "password"},
		{"emails", "created", "address", "counters", "nickname", "profile", "settings", "scores"},
		{"user_id"},
	}
	for _, fields := range lists {
		for _, reverse := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/reverse=%v", fields, reverse), func(t *testing.T) {
				exp := slices.Clone(want)
				if reverse {
					slices.Reverse(exp)
				}
				var got []*testpb.User
				after := ""
				for len(got) < len(exp) {
					n := len(got)
					for u, err := range users.Scan(ctx, nil, runtime.ScanOptions{Fields: fields, Reverse: reverse, Limit: 5, After: after}) {
						check(t, err)
						got = append(got, u)
					}
					if len(got) == n {
						t.Fatalf("no progress after %d rows", n)
					}
					after = must[string](t)(users.Cursor(got[len(got)-1]))
				}
				for i := range exp {
					if w := onlyFields(exp[i], fields); !proto.Equal(got[i], w) {
						t.Fatalf("row %d:\ngot  %v\nwant %v", i, got[i], w)
					}
				}
			})
		}
	}

	// A scan of one inline field lands on a few keys per row, not on the
	// 40-odd of its sessions.
	count := func(fields []string) int {
		landed = 0
		check(t, db.View(ctx, func(tx *runtime.Tx) error { // the counting reader
			for _, err := range users.In(tx).Scan(ctx, nil, runtime.ScanOptions{Fields: fields}) {
				if err != nil {
					return err
				}
			}
			return nil
		}))
		return landed
	}
	if whole, one := count(nil), count([]string{"registered"}); one > 4*len(want) || whole < 40*len(want) {
		t.Errorf("keys landed on: %d for registered alone, %d for whole rows", one, whole)
	}

	for name, fields := range map[string][]string{
		"nested":  {"password.hash"},
		"unknown": {"nope"},
		"twice":   {"registered", "registered"},
	} {
		for _, err := range users.Scan(ctx, nil, runtime.ScanOptions{Fields: fields}) {
			if !errors.Is(err, runtime.ErrInvalid) {
				t.Errorf("%s: Fields %q: got %v, want ErrInvalid", name, fields, err)
			}
			break
		}
	}
	for _, err := range users.Row("u01").Sessions().Scan(ctx, runtime.ScanOptions{Fields: []string{"device"}}) {
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("a map scan with Fields: got %v, want ErrInvalid", err)
		}
		break
	}
}

// TestScanFieldsCorruption checks that the projected typed scan reports a
// damaged row value as Get does, with its row plan (which filters and
// decodes the value in one pass, rowplan.go) and without, rather than
// decoding what the filter refuses.
func TestScanFieldsCorruption(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db := openDB(t, store)
	users := table(t, db, "User")
	fields := []string{"registered"}
	ref := must[runtime.Ref](t)(users.Row(str("c")))
	if _, _, err := runtime.RowPlanDecodeForTest(users, fields, ref.Key(), nil); err != nil {
		t.Fatalf("fields %q: %v; the test wants a row plan", fields, err)
	}
	tests := []struct {
		name  string
		value []byte
		want  string
	}{
		{"kept field of another wire type", []byte{0x15, 0, 0, 0, 0}, "value holds field 2 (registered) with wire type 5"},
		{"malformed field not kept", []byte{0x10, 0x01, 0x3a, 0x05}, "malformed value"},
		{"malformed kept field", []byte{0x10, 0x80}, "malformed value"},
	}
	for _, tt := range tests {
		b := kv.NewBatch()
		check(t, b.DeleteRange(ref.Key(), append(ref.Key(), 0xff)))
		check(t, b.Set(ref.Key(), tt.value))
		check(t, store.Apply(ctx, b))
		for i := range 4 {
			unplanned, reuse := i%2 == 1, i >= 2
			runtime.SetUnplannedRowScanForTest(unplanned)
			var err error
			for _, err = range db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{Fields: fields, Reuse: reuse}) {
				if err != nil {
					break
				}
			}
			runtime.SetUnplannedRowScanForTest(false)
			var ce *runtime.CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) || string(ce.Key) != string(ref.Key()) {
				t.Errorf("%s (unplanned %v, reuse %v): got %v, want a CorruptError of key %x containing %q", tt.name, unplanned, reuse, err, ref.Key(), tt.want)
			}
		}
	}
}

// TestScanReuseStrings checks that the strings of a scan with
// ScanOptions.Reuse outlive their rows: the strings of every row, kept
// while the scan goes on (across many of the blocks they are cut from,
// and rows whose strings are longer than a block), read the same as a
// scan's without Reuse at its end.
func TestScanReuseStrings(t *testing.T) {
	ctx := context.Background()
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	scalars := must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db))
	for i := range 600 {
		s := strings.Repeat(fmt.Sprintf("%d.", i), i%37)
		if i%97 == 5 {
			s = strings.Repeat("x", 5000+i) // longer than a block
		}
		check(t, scalars.Put(ctx, &testpb.Scalars{Name: fmt.Sprintf("row-%03d", i), S: s, I64: int64(i)}))
	}
	scan := func(reuse bool) (names, ss []string, i64s []int64) {
		for m, err := range db.Scan(ctx, tbl, runtime.KeyRange{}, runtime.ScanOptions{Fields: []string{"s", "i64"}, Reuse: reuse}) {
			check(t, err)
			s := m.(*testpb.Scalars)
			names, ss, i64s = append(names, s.Name), append(ss, s.S), append(i64s, s.I64)
		}
		return names, ss, i64s
	}
	wn, ws, wi := scan(false)
	gn, gs, gi := scan(true)
	if len(wn) != 600 || !slices.Equal(gn, wn) || !slices.Equal(gs, ws) || !slices.Equal(gi, wi) {
		t.Fatalf("reusing scan: %d rows, names equal %v, s equal %v, i64 equal %v; want the %d rows of the scan without Reuse",
			len(gn), slices.Equal(gn, wn), slices.Equal(gs, ws), slices.Equal(gi, wi), len(wn))
	}
}

// TestScanRowsIndependent checks that the rows of a scan without
// ScanOptions.Reuse are independent messages, though a projected scan of
// scalar fields takes them from shared slabs and cuts their strings from
// shared blocks (rowplan.go rowAlloc): setting the fields of a row, or
// proto.Reset-ing it, while the scan goes on and after it, changes no
// other row, and the strings of earlier rows read the same after the scan
// went on past them. Whole rows (the generic decode) and a projection the
// row plan does not decode are checked the same way, on DB.Scan and on
// the typed table's Scan (whose planned rows come by address).
func TestScanRowsIndependent(t *testing.T) {
	ctx := context.Background()
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	scalars := must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db))
	const rows = 300
	want := func(i int) *testpb.Scalars {
		return &testpb.Scalars{Name: fmt.Sprintf("row-%03d", i), S: strings.Repeat(fmt.Sprintf("%d,", i), i%19), I64: int64(i) + 1, Opt: proto.String(fmt.Sprint(i))}
	}
	for i := range rows {
		check(t, scalars.Put(ctx, want(i)))
	}
	untyped, typed := scalarsScans(ctx, db, tbl, scalars)
	for _, scan := range []func(runtime.ScanOptions) iter.Seq2[*testpb.Scalars, error]{untyped, typed} {
		for _, fields := range [][]string{{"s", "i64"}, {"i64"}, nil, {"s", "opt"}} {
			// project returns want(i) as the scan of fields returns it.
			project := func(i int) *testpb.Scalars {
				w := want(i)
				if fields != nil {
					w = &testpb.Scalars{Name: w.Name}
					for _, f := range fields {
						fd := w.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(f))
						w.ProtoReflect().Set(fd, want(i).ProtoReflect().Get(fd))
					}
				}
				return w
			}
			var got []*testpb.Scalars
			var names, ss []string // the rows' strings, and copies of them
			var nameCopies, sCopies []string
			for s, err := range scan(runtime.ScanOptions{Fields: fields}) {
				check(t, err)
				i := len(got)
				if !proto.Equal(s, project(i)) {
					t.Fatalf("fields %q: row %d is %v, want %v", fields, i, s, project(i))
				}
				got = append(got, s)
				names, ss = append(names, s.Name), append(ss, s.S)
				nameCopies, sCopies = append(nameCopies, strings.Clone(s.Name)), append(sCopies, strings.Clone(s.S))
				// Change the row before this one while the scan goes on:
				// the rows that come next must not see it.
				if i > 0 {
					p := got[i-1]
					if i%2 == 0 {
						proto.Reset(p)
					} else {
						p.Name, p.S, p.I64, p.By = "changed", "changed too", -1, []byte("x")
					}
				}
			}
			if len(got) != rows {
				t.Fatalf("fields %q: %d rows, want %d", fields, len(got), rows)
			}
			for i := range rows {
				if names[i] != nameCopies[i] || ss[i] != sCopies[i] {
					t.Fatalf("fields %q: row %d's strings became %q, %q after the scan went on; they were %q, %q", fields, i, names[i], ss[i], nameCopies[i], sCopies[i])
				}
			}
			// The last row was left as it came; change every other row once
			// more, then the last one: each row holds what was done to it.
			for i := range rows - 1 {
				proto.Reset(got[i])
				got[i].I64 = int64(i)
			}
			got[rows-1].Name = "last"
			for i := range rows - 1 {
				if w := (&testpb.Scalars{I64: int64(i)}); !proto.Equal(got[i], w) {
					t.Fatalf("fields %q: row %d is %v after the other rows changed, want %v", fields, i, got[i], w)
				}
			}
			w := project(rows - 1)
			w.Name = "last"
			if !proto.Equal(got[rows-1], w) {
				t.Fatalf("fields %q: the last row is %v after the other rows changed, want %v", fields, got[rows-1], w)
			}
		}
	}
}

// TestScanReuseRefused checks that map and index scans refuse
// ScanOptions.Reuse, which applies to row scans.
func TestScanReuseRefused(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	check(t, users.Put(ctx, userWithSessions("u", 3)))
	for _, err := range users.Row("u").Sessions().Scan(ctx, runtime.ScanOptions{Reuse: true}) {
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("map scan with Reuse: got %v, want ErrInvalid", err)
		}
		break
	}
	idb := querytest.OpenIndexed(t, memkv.New())
	accounts := must[testpb.AccountTable](t)(testpb.NewAccountTable(idb))
	n := 0
	for _, err := range accounts.ByAge().Scan(ctx, nil, runtime.ScanOptions{Reuse: true}) {
		n++
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("index scan with Reuse: got %v, want ErrInvalid", err)
		}
	}
	if n != 1 {
		t.Errorf("index scan with Reuse of an empty table: %d results, want its one error", n)
	}
}

// TestScanRowsByAddress checks how the typed layer's scan (scanRowsTo)
// hands rows over: by address (rowAt) exactly when the row plan decoded
// the row into a message of the Go type the caller named, so a row is
// never made an M of another type's memory; and the rows equal DB.Scan's
// either way, on a DB and in a Tx, with and without Reuse.
func TestScanRowsByAddress(t *testing.T) {
	ctx := context.Background()
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	scalars := must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db))
	const rows = 150
	for i := range rows {
		check(t, scalars.Put(ctx, &testpb.Scalars{Name: fmt.Sprintf("row-%03d", i), S: strings.Repeat("s", i%7), I64: int64(i), Opt: proto.String("o")}))
	}
	if got, want := runtime.RowStructForTest[*testpb.Scalars](), reflect.TypeFor[testpb.Scalars](); got != want {
		t.Fatalf("rowStruct[*Scalars] is %v, want %v", got, want)
	}
	if got := runtime.RowStructForTest[proto.Message](); got != nil {
		t.Fatalf("rowStruct[proto.Message] is %v, want nil", got)
	}
	self := reflect.TypeFor[testpb.Scalars]()
	other := reflect.TypeFor[testpb.User]()
	for _, fields := range [][]string{{"s", "i64"}, nil, {"s", "opt"}} {
		for _, reuse := range []bool{false, true} {
			opts := runtime.ScanOptions{Fields: fields, Reuse: reuse}
			var want []*testpb.Scalars
			for m, err := range db.Scan(ctx, tbl, runtime.KeyRange{}, opts) {
				check(t, err)
				want = append(want, proto.Clone(m).(*testpb.Scalars))
			}
			planned := len(fields) == 2 && fields[1] == "i64" // the plan decodes s and i64, not opt
			for _, typ := range []reflect.Type{self, other, nil} {
				for _, inTx := range []bool{false, true} {
					var got []*testpb.Scalars
					var byAddr int
					scan := func(q runtime.Querier) error {
						var err error
						got, byAddr, err = runtime.ScanRowsOfForTest[*testpb.Scalars](ctx, q, tbl, opts, typ)
						return err
					}
					if inTx {
						check(t, db.View(ctx, func(tx *runtime.Tx) error { return scan(tx) }))
					} else {
						check(t, scan(db))
					}
					wantAddr := 0
					if typ == self && planned {
						wantAddr = rows
					}
					if byAddr != wantAddr {
						t.Errorf("fields %q, Reuse %v, type %v, in a Tx %v: %d rows by address, want %d", fields, reuse, typ, inTx, byAddr, wantAddr)
					}
					if len(got) != len(want) {
						t.Fatalf("fields %q, Reuse %v, type %v, in a Tx %v: %d rows, want %d", fields, reuse, typ, inTx, len(got), len(want))
					}
					for i := range want {
						if !proto.Equal(got[i], want[i]) {
							t.Fatalf("fields %q, Reuse %v, type %v, in a Tx %v: row %d is %v, want %v", fields, reuse, typ, inTx, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestScanRowsNotOfM checks that the typed layer's scan (scanRowsTo) of
// rows that are not of the caller's Go type M ends with the error of
// messageAs (ErrInvalid naming both types), never an M made of another
// type's memory: rows the row plan decodes (fields s and i64) and rows it
// does not (opt, whole rows), on a DB and in a Tx, with and without Reuse.
func TestScanRowsNotOfM(t *testing.T) {
	ctx := context.Background()
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	scalars := must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db))
	for i := range 3 {
		check(t, scalars.Put(ctx, &testpb.Scalars{Name: fmt.Sprintf("row-%d", i), S: "s", I64: int64(i), Opt: proto.String("o")}))
	}
	for _, fields := range [][]string{{"s", "i64"}, {"s", "opt"}, nil} {
		for _, reuse := range []bool{false, true} {
			opts := runtime.ScanOptions{Fields: fields, Reuse: reuse}
			for _, typ := range []reflect.Type{reflect.TypeFor[testpb.User](), nil} {
				for _, inTx := range []bool{false, true} {
					var got []*testpb.User
					scan := func(q runtime.Querier) error {
						var err error
						got, _, err = runtime.ScanRowsOfForTest[*testpb.User](ctx, q, tbl, opts, typ)
						return err
					}
					var err error
					if inTx {
						err = db.View(ctx, func(tx *runtime.Tx) error { return scan(tx) })
					} else {
						err = scan(db)
					}
					if !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), "*testpb.Scalars") || !strings.Contains(err.Error(), "*testpb.User") {
						t.Errorf("fields %q, Reuse %v, type %v, in a Tx %v: Scalars rows as *testpb.User: got %d rows, error %v; want ErrInvalid naming both types", fields, reuse, typ, inTx, len(got), err)
					}
				}
			}
		}
	}
}

// TestTypedScanYieldsItsError checks that the typed table's Scan, which
// hands a DB's or a Tx's rows from the row scan to the loop body
// (scanRowsAs), yields the scan's error, once and as its only element, on
// a DB and in a Tx: here a projection of a field the table lacks.
func TestTypedScanYieldsItsError(t *testing.T) {
	ctx := context.Background()
	db := openScalars(t, memkv.New())
	scalars := must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db))
	check(t, scalars.Put(ctx, &testpb.Scalars{Name: "row", S: "s"}))
	scan := func(q runtime.Querier) (rows int, errs []error) {
		for s, err := range scalars.In(q).Scan(ctx, nil, runtime.ScanOptions{Fields: []string{"no_such_field"}}) {
			if err != nil {
				errs = append(errs, err)
			} else if s != nil {
				rows++
			}
		}
		return rows, errs
	}
	for _, inTx := range []bool{false, true} {
		var rows int
		var errs []error
		if inTx {
			check(t, db.View(ctx, func(tx *runtime.Tx) error { rows, errs = scan(tx); return nil }))
		} else {
			rows, errs = scan(db)
		}
		if rows != 0 || len(errs) != 1 {
			t.Errorf("in a Tx %v: a scan of an unknown field gave %d rows and the errors %v, want none and one error", inTx, rows, errs)
		}
	}
}

// TestScanStringsOwnTheirBytes checks that the strings and bytes fields of
// scanned rows own their bytes. An iterator lends its key and value only
// until its next move (kv.Iterator); lendingStore's iterators lend them
// from one buffer that they scribble over at every move, so a row's string
// or bytes field aliasing what the iterator lent (a key column, a field of
// the row's value) would change as the scan went on. The fields of every
// row, kept as the scan returned them, must read after the scan as the
// copies taken when the row came: for the row plan's rows (slabs and shared
// string blocks, or with Reuse one message) and the generic decode's, on
// DB.Scan and the typed table's Scan. (TestScanRowsIndependent runs on
// memkv, whose values stay put, so it does not see an alias of a value.)
// Some rows' s is longer than any string block (arenaBlock): those get
// bytes of their own, which must not alias the value either.
func TestScanStringsOwnTheirBytes(t *testing.T) {
	ctx := context.Background()
	db := openScalars(t, lendingStore{memkv.New()})
	tbl := table(t, db, "Scalars")
	scalars := must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db))
	const rows = 300
	for i := range rows {
		s := strings.Repeat(fmt.Sprintf("%d;", i), 1+i%23)
		if i%41 == 3 {
			s = strings.Repeat(s, 4096/len(s)+1) // longer than any block
		}
		check(t, scalars.Put(ctx, &testpb.Scalars{
			Name: fmt.Sprintf("row-%03d", i), Tag: []byte(fmt.Sprintf("tag%d", i)),
			S: s, By: []byte(fmt.Sprintf("by%d", i)), Opt: proto.String(fmt.Sprint(i)),
		}))
	}
	untyped, typed := scalarsScans(ctx, db, tbl, scalars)
	type fields struct {
		name, s, opt string
		tag, by      []byte
	}
	for si, scan := range []func(runtime.ScanOptions) iter.Seq2[*testpb.Scalars, error]{untyped, typed} {
		// {"s", "by"} and {"s"} are the row plan's; "opt" (presence) and
		// whole rows take the generic decode.
		for _, proj := range [][]string{{"s", "by"}, {"s"}, {"s", "opt"}, nil} {
			for _, reuse := range []bool{false, true} {
				var kept, copies []fields
				for s, err := range scan(runtime.ScanOptions{Fields: proj, Reuse: reuse}) {
					check(t, err)
					kept = append(kept, fields{s.Name, s.S, s.GetOpt(), s.Tag, s.By})
					copies = append(copies, fields{strings.Clone(s.Name), strings.Clone(s.S), strings.Clone(s.GetOpt()), slices.Clone(s.Tag), slices.Clone(s.By)})
				}
				if len(kept) != rows {
					t.Fatalf("scan %d, fields %q, reuse %v: %d rows, want %d", si, proj, reuse, len(kept), rows)
				}
				for i := range kept {
					k, c := kept[i], copies[i]
					if k.name != c.name || k.s != c.s || k.opt != c.opt || !bytes.Equal(k.tag, c.tag) || !bytes.Equal(k.by, c.by) {
						t.Fatalf("scan %d, fields %q, reuse %v: row %d became %q after the scan went on; it was %q", si, proj, reuse, i, k, c)
					}
				}
				if w := fmt.Sprintf("row-%03d", rows-1); copies[rows-1].name != w || !strings.HasPrefix(copies[rows-1].s, fmt.Sprint(rows-1)) {
					t.Fatalf("scan %d, fields %q, reuse %v: the last row is %q, want %s and its s", si, proj, reuse, copies[rows-1], w)
				}
			}
		}
	}
}

// lendingStore is a store whose iterators lend each key and value from one
// buffer of the iterator's, which every move scribbles over (0xEE) before
// it holds the next pair: what kv.Iterator allows, and what an engine
// reusing its buffers may do.
type lendingStore struct{ kv.Store }

func (s lendingStore) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	return lendingReader{s.Store}.NewIter(ctx, o)
}

func (s lendingStore) View(ctx context.Context, fn func(kv.Reader) error) error {
	return s.Store.View(ctx, func(r kv.Reader) error { return fn(lendingReader{r}) })
}

type lendingReader struct{ kv.Reader }

func (r lendingReader) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := r.Reader.NewIter(ctx, o)
	if err != nil {
		return nil, err
	}
	return &lendingIter{Iterator: it}, nil
}

type lendingIter struct {
	kv.Iterator
	buf []byte // the pair lent: key, then value
	k   int    // the key's length
}

func (it *lendingIter) lend(ok bool) bool {
	for i := range it.buf {
		it.buf[i] = 0xEE
	}
	it.buf, it.k = it.buf[:0], 0
	if ok {
		k := it.Iterator.Key()
		it.buf, it.k = append(append(it.buf, k...), it.Iterator.Value()...), len(k)
	}
	return ok
}

func (it *lendingIter) First() bool          { return it.lend(it.Iterator.First()) }
func (it *lendingIter) Next() bool           { return it.lend(it.Iterator.Next()) }
func (it *lendingIter) SeekGE(k []byte) bool { return it.lend(it.Iterator.SeekGE(k)) }
func (it *lendingIter) SeekLT(k []byte) bool { return it.lend(it.Iterator.SeekLT(k)) }
func (it *lendingIter) Key() []byte          { return it.buf[:it.k:it.k] }
func (it *lendingIter) Value() []byte        { return it.buf[it.k:] }

// scalarsScans returns the Scalars table's scan through the DB (its rows
// as *testpb.Scalars) and through the typed table, which takes the rows
// its row plan decodes by address (scanRowsTo, rowAt).
func scalarsScans(ctx context.Context, db *runtime.DB, tbl *runtime.Table, scalars testpb.ScalarsTable) (untyped, typed func(runtime.ScanOptions) iter.Seq2[*testpb.Scalars, error]) {
	untyped = func(opts runtime.ScanOptions) iter.Seq2[*testpb.Scalars, error] {
		return func(yield func(*testpb.Scalars, error) bool) {
			for m, err := range db.Scan(ctx, tbl, runtime.KeyRange{}, opts) {
				s, _ := m.(*testpb.Scalars)
				if !yield(s, err) {
					return
				}
			}
		}
	}
	typed = func(opts runtime.ScanOptions) iter.Seq2[*testpb.Scalars, error] {
		return scalars.Scan(ctx, nil, opts)
	}
	return untyped, typed
}
