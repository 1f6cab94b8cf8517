package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// rmwOnly is a store with every optional interface of a Pebble store but
// kv.KeyMerger, so that a DB on it makes its inline setters
// read-modify-writes (kv.KeyUpdater).
type rmwOnly struct {
	rmwStore
}

type rmwStore interface {
	kv.Store
	kv.KeyUpdater
	kv.KeySetter
	kv.LatestUpdater
}

// mergeStores are the stores of the merge differential tests: Pebble and
// memkv merging, and Pebble read-modify-writing, the reference.
func mergeStores(t *testing.T) []kv.Store {
	fast := openPebble(t)
	if km, ok := fast.(kv.KeyMerger); !ok || !km.CanMerge() {
		t.Fatal("a new pebblekv store cannot merge")
	}
	return []kv.Store{rmwOnly{openPebble(t).(rmwStore)}, fast, memkv.New()}
}

// randFloat is a float64 among the awkward ones: zero, negative zero,
// NaN, infinities, and ordinary ones.
func randFloat(r *rand.Rand) float64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return math.NaN()
	case 3:
		return math.Inf(-1)
	}
	return r.NormFloat64() * 1e6
}

// randInt is an int64 that is often zero, sometimes negative or large.
func randInt(r *rand.Rand) int64 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return -int64(r.Uint64() >> uint(r.IntN(64)))
	}
	return int64(r.Uint64() >> uint(1+r.IntN(63)))
}

// TestInlineMergeMatchesRMW is the differential test of the blind inline
// setter (a field patch through kv.KeyMerger) against the
// read-modify-write: the same random setter calls — every number kind,
// bool, enum (unknown values too), float zeros and NaN, a oneof's int
// member against its string member, zero values, missing rows — mixed
// with string setters, Clears, Puts and Deletes, on Pebble and memkv
// merging and on Pebble without KeyMerger. Every call must return the
// same error (or none), a Get of the row the same message, and, every so
// often, a scan the same rows and the stores the same key/value pairs once
// each value's fields are put in field-number order.
func TestInlineMergeMatchesRMW(t *testing.T) {
	ctx := context.Background()
	stores := mergeStores(t)
	var dbs []*runtime.DB
	var tables []testpb.ScalarsTable
	for _, s := range stores {
		db := openScalars(t, s)
		dbs = append(dbs, db)
		tables = append(tables, must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db)))
	}
	keys := []testpb.ScalarsKey{{Name: "a", N: 1}, {Name: "a", N: -2, Tag: []byte{0}}, {Name: "b"}, {Name: "c", N: 7}}
	r := rand.New(rand.NewPCG(5, 6))
	for step := range 3000 {
		k := keys[r.IntN(len(keys))]
		i, f, op := randInt(r), randFloat(r), r.IntN(24)
		var put *testpb.Scalars
		if op == 20 {
			put = &testpb.Scalars{I64: i, Db: f, S: "put", Nums: []int32{1, 2}, Choice: &testpb.Scalars_Left{Left: "l"}}
		}
		errs := make([]string, len(stores))
		for si, tbl := range tables {
			row := tbl.Row(k)
			var err error
			switch op {
			case 0:
				err = row.B().Set(ctx, i%2 != 0)
			case 1:
				err = row.I32().Set(ctx, int32(i))
			case 2:
				err = row.S32().Set(ctx, int32(i))
			case 3:
				err = row.Sf32().Set(ctx, int32(i))
			case 4:
				err = row.I64().Set(ctx, i)
			case 5:
				err = row.S64().Set(ctx, i)
			case 6:
				err = row.Sf64().Set(ctx, i)
			case 7:
				err = row.U32().Set(ctx, uint32(i))
			case 8:
				err = row.F32().Set(ctx, uint32(i))
			case 9:
				err = row.U64().Set(ctx, uint64(i))
			case 10:
				err = row.F64().Set(ctx, uint64(i))
			case 11:
				err = row.Fl().Set(ctx, float32(f))
			case 12:
				err = row.Db().Set(ctx, f)
			case 13:
				err = row.Level().Set(ctx, testpb.Level(i%4))
			case 14, 15:
				err = row.Right().Set(ctx, i)
			case 16:
				err = row.Left().Set(ctx, fmt.Sprint(i%3))
			case 17:
				err = row.S().Set(ctx, fmt.Sprint(i%3))
			case 18:
				err = row.Db().Clear(ctx)
			case 19:
				err = row.Right().Clear(ctx)
			case 20:
				err = row.Put(ctx, put)
			case 21:
				err = row.Delete(ctx)
			case 22:
				err = row.Opt().Set(ctx, "")
			case 23:
				err = row.I64().Set(ctx, 0)
			}
			errs[si] = fmt.Sprint(err)
		}
		for si := range errs[1:] {
			if errs[si+1] != errs[0] {
				t.Fatalf("step %d (op %d): errors differ: %q vs the read-modify-write's %q", step, op, errs[si+1], errs[0])
			}
		}
		var want []byte
		for si, tbl := range tables {
			got, err := tbl.Row(k).Get(ctx)
			b := fmt.Appendf(nil, "%v", err)
			if err == nil {
				b = must[[]byte](t)(proto.MarshalOptions{Deterministic: true}.Marshal(got))
			}
			if si == 0 {
				want = b
			} else if !bytes.Equal(b, want) {
				t.Fatalf("step %d (op %d): Get from store %d = %x, want %x", step, op, si, b, want)
			}
		}
		if step%100 == 99 {
			compareMergeStores(t, dbs, stores, "Scalars")
		}
	}
	compareMergeStores(t, dbs, stores, "Scalars")
}

// TestEntryMergeMatchesRMW is TestInlineMergeMatchesRMW for map entries
// and an object nested in one: a session's expiry and its geo's
// latitude, set on present and missing entries and users, mixed with
// device (string) setters, entry Puts and Deletes, and compared through
// Get and a query too.
func TestEntryMergeMatchesRMW(t *testing.T) {
	ctx := context.Background()
	stores := mergeStores(t)
	var dbs []*runtime.DB
	var tables []testpb.UserTable
	for _, s := range stores {
		db := openDB(t, s)
		users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
		check(t, users.Put(ctx, userWithSessions("u0", 3)))
		dbs, tables = append(dbs, db), append(tables, users)
	}
	q := query.MustCompile(dbs[0].Catalog(), `User[$id] { sessions(first: 10) { expires_us geo { lat } } }`)
	r := rand.New(rand.NewPCG(7, 8))
	for step := range 2000 {
		u := []string{"u0", "u1"}[r.IntN(2)]
		sk := fmt.Sprintf("session-%02d", r.IntN(5))
		i, f, op := randInt(r), randFloat(r), r.IntN(8)
		errs := make([]string, len(stores))
		for si, users := range tables {
			e := users.Row(u).Sessions().Entry(sk)
			var err error
			switch op {
			case 0, 1, 2:
				err = e.ExpiresUs().Set(ctx, i)
			case 3:
				err = e.Geo().Lat().Set(ctx, f)
			case 4:
				err = e.Device().Set(ctx, fmt.Sprint(i%3))
			case 5:
				err = e.Put(ctx, &testpb.Session{ExpiresUs: i, Device: "put"})
			case 6:
				err = e.Delete(ctx)
			case 7:
				err = e.ExpiresUs().Clear(ctx)
			}
			errs[si] = fmt.Sprint(err)
		}
		for si := range errs[1:] {
			if errs[si+1] != errs[0] {
				t.Fatalf("step %d (op %d): errors differ: %q vs the read-modify-write's %q", step, op, errs[si+1], errs[0])
			}
		}
		var want []byte
		for si, users := range tables {
			got, err := users.Row(u).Get(ctx)
			b := fmt.Appendf(nil, "%v", err)
			if err == nil {
				b = must[[]byte](t)(proto.MarshalOptions{Deterministic: true}.Marshal(got))
			}
			for res, err := range dbs[si].Query(ctx, q, map[string]any{"id": u}) {
				b = fmt.Appendf(b, "|%v", err)
				if err == nil {
					b = append(b, must[[]byte](t)(proto.MarshalOptions{Deterministic: true}.Marshal(res.Msg))...)
				}
			}
			if si == 0 {
				want = b
			} else if !bytes.Equal(b, want) {
				t.Fatalf("step %d (op %d): Get and query from store %d = %x, want %x", step, op, si, b, want)
			}
		}
		if step%100 == 99 {
			compareMergeStores(t, dbs, stores, "User")
		}
	}
	compareMergeStores(t, dbs, stores, "User")
}

// compareMergeStores checks that a scan of table reads the same rows from
// every DB and that the stores hold the same keys, each value with the
// same fields once put in field-number order (a patch appends its field),
// metadata aside.
func compareMergeStores(t *testing.T, dbs []*runtime.DB, stores []kv.Store, tableName string) {
	t.Helper()
	ctx := context.Background()
	var want []byte
	for i, db := range dbs {
		var b []byte
		for m, err := range db.Scan(ctx, table(t, db, tableName), runtime.KeyRange{}, runtime.ScanOptions{}) {
			b = fmt.Appendf(b, "|%v", err)
			if err == nil {
				b = append(b, must[[]byte](t)(proto.MarshalOptions{Deterministic: true}.Marshal(m))...)
			}
		}
		if i == 0 {
			want = b
		} else if !bytes.Equal(b, want) {
			t.Fatalf("scan of %s from store %d = %x, want %x", tableName, i, b, want)
		}
	}
	want = nil
	for i, s := range stores {
		it, err := s.NewIter(ctx, kv.IterOptions{})
		check(t, err)
		var b []byte
		for ok := it.First(); ok; ok = it.Next() {
			if it.Key()[0] == 0 {
				continue // metadata: the schema, the DB's own cursor secret
			}
			b = fmt.Appendf(b, "%x=%x\n", it.Key(), sortedFields(t, it.Value()))
		}
		check(t, it.Close())
		if i == 0 {
			want = b
		} else if !bytes.Equal(b, want) {
			t.Fatalf("pairs of store %d:\n%s\nwant\n%s", i, b, want)
		}
	}
}

// sortedFields returns v's records stably sorted by field number, or v
// itself if it is not a protobuf fragment (a metadata value).
func sortedFields(t *testing.T, v []byte) []byte {
	type record struct {
		num protowire.Number
		b   []byte
	}
	var recs []record
	for b := v; len(b) > 0; {
		num, _, n := protowire.ConsumeField(b)
		if n < 0 {
			return v
		}
		recs = append(recs, record{num, b[:n]})
		b = b[n:]
	}
	slices.SortStableFunc(recs, func(a, b record) int { return int(a.num) - int(b.num) })
	var out []byte
	for _, r := range recs {
		out = append(out, r.b...)
	}
	return out
}

// mergeCounter is a merging memkv store that counts its merges and its
// transactions.
type mergeCounter struct {
	*memkv.Store
	merges, updates int
}

func (s *mergeCounter) MergeKey(ctx context.Context, key, patch []byte) error {
	s.merges++
	return s.Store.MergeKey(ctx, key, patch)
}

func (s *mergeCounter) Update(ctx context.Context, fn func(kv.Txn) error) error {
	s.updates++
	return s.Store.Update(ctx, fn)
}

// TestInlineSetterMergesBlind checks which setters write a field patch
// (one MergeKey, no transaction) and which read-modify-write: a number
// setter of a map entry, of an object in one and of a row merges; a
// string setter, a Clear and a setter inside DB.Update do not.
func TestInlineSetterMergesBlind(t *testing.T) {
	ctx := context.Background()
	s := &mergeCounter{Store: memkv.New()}
	db := openDB(t, s)
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	check(t, users.Put(ctx, userWithSessions("u", 2)))
	e := users.Row("u").Sessions().Entry("session-01")
	for _, tc := range []struct {
		name            string
		call            func() error
		merges, updates int
	}{
		{"entry int64", func() error { return e.ExpiresUs().Set(ctx, 5) }, 1, 0},
		{"entry int64 zero", func() error { return e.ExpiresUs().Set(ctx, 0) }, 1, 0},
		{"missing entry", func() error { return users.Row("v").Sessions().Entry("x").ExpiresUs().Set(ctx, 5) }, 1, 0},
		{"nested object double", func() error { return e.Geo().Lat().Set(ctx, 1.5) }, 1, 0},
		{"row uint64", func() error { return users.Row("u").Registered().Set(ctx, 7) }, 1, 0},
		{"entry string", func() error { return e.Device().Set(ctx, "tablet") }, 0, 1},
		{"entry clear", func() error { return e.ExpiresUs().Clear(ctx) }, 0, 1},
		{"inside Update", func() error {
			return db.Update(ctx, func(tx *runtime.Tx) error {
				return users.In(tx).Row("u").Sessions().Entry("session-01").ExpiresUs().Set(ctx, 9)
			})
		}, 0, 1},
	} {
		s.merges, s.updates = 0, 0
		if err := tc.call(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s.merges != tc.merges || s.updates != tc.updates {
			t.Errorf("%s: %d merges and %d transactions, want %d and %d", tc.name, s.merges, s.updates, tc.merges, tc.updates)
		}
	}
	got := must[*testpb.User](t)(users.Row("u").Get(ctx))
	want := userWithSessions("u", 2)
	want.Registered = 7
	want.Sessions["session-01"] = &testpb.Session{ExpiresUs: 9, Device: "tablet", Geo: &testpb.Geo{Lat: 1.5}}
	wantEqual(t, "after the setters", want, got)
}

// TestMergeIntoCorruptValue checks that a patch merged into a value that
// does not parse leaves the key's value corrupt for every reader: Get
// fails with a CorruptError naming the key, and so does a later
// read-modify-write setter, instead of a panic or a silently repaired
// value.
func TestMergeIntoCorruptValue(t *testing.T) {
	ctx := context.Background()
	for _, s := range []kv.Store{openPebble(t), memkv.New()} {
		db := openDB(t, s)
		users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
		check(t, users.Put(ctx, userWithSessions("u", 1)))
		e := users.Row("u").Sessions().Entry("session-00")
		ref := must[runtime.Ref](t)(e.Handle.Ref())
		var b kv.Batch
		check(t, b.Set(ref.Key(), []byte{0x08})) // a varint cut short
		check(t, s.Apply(ctx, &b))
		check(t, e.ExpiresUs().Set(ctx, 5)) // blind: reads nothing
		_, err := e.Get(ctx)
		var ce *runtime.CorruptError
		if !errors.As(err, &ce) || !bytes.Equal(ce.Key, ref.Key()) {
			t.Errorf("%T: Get after a merge into a corrupt value: %v, want a CorruptError of key %x", s, err, ref.Key())
		}
		err = e.Device().Set(ctx, "x") // a read-modify-write
		if !errors.As(err, &ce) || !bytes.Equal(ce.Key, ref.Key()) {
			t.Errorf("%T: string setter after a merge into a corrupt value: %v, want a CorruptError of key %x", s, err, ref.Key())
		}
	}
}

// BenchmarkGetMerged measures a Get of a user with 10 sessions whose
// entries hold plain values (after a Put) against one whose entries each
// hold 7 pending field patches in the memtable (the most a key gets
// before pebblekv's read-modify-write: every 8th merge), on Pebble:
// BenchmarkGetMerged/{plain,merged}.
func BenchmarkGetMerged(b *testing.B) {
	ctx := context.Background()
	s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	db := openDB(b, s)
	users := must[testpb.UserTable](b)(testpb.NewUserTable(db))
	for _, id := range []string{"plain", "merged"} {
		check(b, users.Put(ctx, userWithSessions(id, 10)))
	}
	for k := range 10 {
		e := users.Row("merged").Sessions().Entry(fmt.Sprintf("session-%02d", k))
		for i := range 7 {
			check(b, e.ExpiresUs().Set(ctx, int64(i+1)))
		}
	}
	for _, id := range []string{"plain", "merged"} {
		b.Run(id, func(b *testing.B) {
			row := users.Row(id)
			for b.Loop() {
				if _, err := row.Get(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDuplicateRecordsLastWins checks that the readers take the last of
// two records of one field in a stored value, as protobuf does: a merge
// never leaves two (it removes the field before appending it), but a
// value written otherwise may hold them. Get, the query (the direct entry
// decoders) and a read-modify-write setter see the later record.
func TestDuplicateRecordsLastWins(t *testing.T) {
	ctx := context.Background()
	s := openPebble(t)
	db := openDB(t, s)
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	check(t, users.Put(ctx, userWithSessions("u", 1)))
	e := users.Row("u").Sessions().Entry("session-00")
	ref := must[runtime.Ref](t)(e.Handle.Ref())
	v := protowire.AppendTag(nil, 1, protowire.VarintType)
	v = protowire.AppendVarint(v, 5)
	v = protowire.AppendTag(v, 1, protowire.VarintType)
	v = protowire.AppendVarint(v, 9)
	var b kv.Batch
	check(t, b.Set(ref.Key(), v))
	check(t, s.Apply(ctx, &b))
	if got := must[*testpb.Session](t)(e.Get(ctx)); got.ExpiresUs != 9 {
		t.Errorf("Get: expires_us %d, want the last record's 9", got.ExpiresUs)
	}
	q := query.MustCompile(db.Catalog(), `User[$id] { sessions(first: 10) { expires_us } }`)
	for res, err := range db.Query(ctx, q, map[string]any{"id": "u"}) {
		check(t, err)
		if got := res.Msg.(*testpb.User).Sessions["session-00"].GetExpiresUs(); got != 9 {
			t.Errorf("query: expires_us %d, want the last record's 9", got)
		}
	}
	check(t, e.Device().Set(ctx, "d")) // a read-modify-write keeps the last
	if got := must[*testpb.Session](t)(e.Get(ctx)); got.ExpiresUs != 9 || got.Device != "d" {
		t.Errorf("after a read-modify-write: %v, want expires_us 9, device d", got)
	}
}
