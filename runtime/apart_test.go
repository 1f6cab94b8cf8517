package runtime_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func openApart(t testing.TB, store kv.Store) (*runtime.DB, *runtime.Table) {
	t.Helper()
	db, err := runtime.Open(context.Background(), store, runtime.WithSchema(apartpb.File_protoql_test_apart_v1_apart_proto))
	if err != nil {
		t.Fatal(err)
	}
	return db, table(t, db, "ApartUser")
}

// storedKeys lists the keys of the store outside the metadata, as text.
func storedKeys(t testing.TB, store kv.Store) []string {
	t.Helper()
	it, err := store.NewIter(context.Background(), kv.IterOptions{LowerBound: []byte{0x01}})
	check(t, err)
	defer it.Close()
	var out []string
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, tuple.Format(it.Key()))
	}
	check(t, it.Error())
	return out
}

func apartAlice() *apartpb.ApartUser {
	return &apartpb.ApartUser{
		UserId:     "alice",
		Registered: 1,
		LastSeenUs: 9,
		Password:   &testpb.Password{Hash: []byte("h")},
		Sessions:   map[string]*testpb.Session{"s1": {ExpiresUs: 5, Geo: &testpb.Geo{Lat: 1}}},
		Counters:   map[string]int64{"c": 3},
	}
}

// TestApartLayout pins the keys of a row with fields apart: the row's range
// holds the row key and its colocated breakout, and each apart field sits in
// its own space after the table's rows.
func TestApartLayout(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db, users := openApart(t, store)
	alice := must[runtime.Ref](t)(users.Row(str("alice")))
	check(t, db.Put(ctx, alice, apartAlice()))
	want := []string{
		`20 / 1:"alice"`,
		`20 / 1:"alice" / 3`,
		`20:4u / 1:"alice" / 4`,
		`20:5u / 1:"alice" / 5:"s1"`,
		`20:5u / 1:"alice" / 5:"s1" / 4`,
		`20:11u / 1:"alice" / 11:"c"`,
	}
	if got := storedKeys(t, store); !slices.Equal(got, want) {
		t.Fatalf("stored keys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The Ref of an apart field addresses its stored key.
	sessions := must[runtime.Ref](t)(alice.Field(5))
	s1 := must[runtime.Ref](t)(sessions.Entry(str("s1")))
	if got, want := tuple.Format(s1.Key()), `20:5u / 1:"alice" / 5:"s1"`; got != want {
		t.Errorf("entry Ref key %s, want %s", got, want)
	}
	if got, want := s1.String(), `ApartUser["alice"].sessions["s1"]`; got != want {
		t.Errorf("entry Ref %s, want %s", got, want)
	}
	if got, want := sessions.String(), `ApartUser["alice"].sessions`; got != want {
		t.Errorf("map Ref %s, want %s", got, want)
	}
	// A scan of the rows never lands on an apart key.
	lo := []byte{0x01}
	counted := landingStore{Store: store}
	dbc, _ := openApart(t, &counted)
	q := must[*query.Query](t)(query.Compile(dbc.Catalog(), `ApartUser { registered }`))
	var n int
	for _, err := range dbc.Query(ctx, q, nil) {
		check(t, err)
		n++
	}
	if n != 1 {
		t.Fatalf("query returned %d rows, want 1", n)
	}
	for _, k := range counted.landed {
		if string(k) >= string(lo) && strings.Contains(tuple.Format(k), "u / ") {
			t.Errorf("the row scan landed on apart key %s", tuple.Format(k))
		}
	}
}

// landingStore records every key an iterator of the store lands on.
type landingStore struct {
	kv.Store
	landed [][]byte
}

func (s *landingStore) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := s.Store.NewIter(ctx, o)
	if err != nil {
		return nil, err
	}
	return &landingIter{Iterator: it, s: s}, nil
}

type landingIter struct {
	kv.Iterator
	s *landingStore
}

func (it *landingIter) note(ok bool) bool {
	if ok {
		it.s.landed = append(it.s.landed, slices.Clone(it.Key()))
	}
	return ok
}
func (it *landingIter) First() bool          { return it.note(it.Iterator.First()) }
func (it *landingIter) Next() bool           { return it.note(it.Iterator.Next()) }
func (it *landingIter) SeekGE(k []byte) bool { return it.note(it.Iterator.SeekGE(k)) }
func (it *landingIter) SeekLT(k []byte) bool { return it.note(it.Iterator.SeekLT(k)) }

// TestApartReads reads a row with fields apart every way: Get, Scan in both
// directions, queries selecting apart fields or not, map ranges and pages.
func TestApartReads(t *testing.T) {
	ctx := context.Background()
	db, users := openApart(t, memkv.New())
	want := apartAlice()
	want.Sessions["s2"] = &testpb.Session{Device: "d"}
	bob := &apartpb.ApartUser{UserId: "bob", Counters: map[string]int64{"x": 1}}
	for _, u := range []*apartpb.ApartUser{want, bob} {
		check(t, db.Put(ctx, must[runtime.Ref](t)(users.RowOf(u)), u))
	}
	got := &apartpb.ApartUser{}
	check(t, db.Get(ctx, must[runtime.Ref](t)(users.Row(str("alice"))), got))
	wantEqual(t, "Get", want, got)
	for _, reverse := range []bool{false, true} {
		var rows []proto.Message
		for m, err := range db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{Reverse: reverse}) {
			check(t, err)
			rows = append(rows, m)
		}
		order := []proto.Message{want, bob}
		if reverse {
			slices.Reverse(order)
		}
		if len(rows) != 2 {
			t.Fatalf("Scan(reverse %v): %d rows", reverse, len(rows))
		}
		for i := range rows {
			wantEqual(t, "Scan", order[i], rows[i])
		}
	}
	for _, c := range []struct {
		q    string
		want []proto.Message
	}{
		{`ApartUser["alice"] { registered }`, []proto.Message{&apartpb.ApartUser{UserId: "alice", Registered: 1}}},
		{`ApartUser["alice"]`, []proto.Message{want}},
		{`ApartUser(reverse: true) { counters }`, []proto.Message{
			&apartpb.ApartUser{UserId: "bob", Counters: bob.Counters},
			&apartpb.ApartUser{UserId: "alice", Counters: want.Counters}}},
		{`ApartUser["alice"] { sessions["s2"..](reverse: true) { device }, last_seen_us }`, []proto.Message{
			&apartpb.ApartUser{UserId: "alice", LastSeenUs: 9, Sessions: map[string]*testpb.Session{"s2": {Device: "d"}}}}},
		{`ApartUser["alice"] { password { hash }, sessions(first: 1) { geo } }`, []proto.Message{
			&apartpb.ApartUser{UserId: "alice", Password: want.Password, Sessions: map[string]*testpb.Session{"s1": {Geo: want.Sessions["s1"].Geo}}}}},
	} {
		q := must[*query.Query](t)(query.Compile(db.Catalog(), c.q))
		var got []proto.Message
		for r, err := range db.Query(ctx, q, nil) {
			check(t, err)
			got = append(got, r.Msg)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d results, want %d", c.q, len(got), len(c.want))
		}
		for i := range got {
			wantEqual(t, c.q, c.want[i], got[i])
		}
	}
}

// TestApartWrites checks the writes that touch apart data: a write under an
// apart field of a missing row creates the row, Delete and DeleteRows
// clear the apart spaces in the same batch, Put replaces them.
func TestApartWrites(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db, users := openApart(t, store)
	alice := must[runtime.Ref](t)(users.Row(str("alice")))
	counter := must[runtime.Ref](t)(must[runtime.Ref](t)(alice.Field(11)).Entry(str("c")))
	check(t, db.SetValue(ctx, counter, protoreflect.ValueOfInt64(4)))
	got := &apartpb.ApartUser{}
	check(t, db.Get(ctx, alice, got))
	wantEqual(t, "after an apart entry write to a missing row", &apartpb.ApartUser{UserId: "alice", Counters: map[string]int64{"c": 4}}, got)
	// Deleting the entry leaves the row: its row key marks it.
	check(t, db.Delete(ctx, counter))
	check(t, db.Get(ctx, alice, got))
	wantEqual(t, "after deleting the entry", &apartpb.ApartUser{UserId: "alice"}, got)
	// Put replaces apart data; Delete removes it.
	check(t, db.Put(ctx, alice, apartAlice()))
	check(t, db.Put(ctx, alice, &apartpb.ApartUser{UserId: "alice", Counters: map[string]int64{"d": 1}}))
	check(t, db.Get(ctx, alice, got))
	wantEqual(t, "after Put", &apartpb.ApartUser{UserId: "alice", Counters: map[string]int64{"d": 1}}, got)
	check(t, db.Delete(ctx, alice))
	if keys := storedKeys(t, store); len(keys) != 0 {
		t.Fatalf("after Delete: keys left: %v", keys)
	}
	// DeleteRows clears the apart data of the rows in range only.
	for _, id := range []string{"a", "b", "c"} {
		u := apartAlice()
		u.UserId = id
		check(t, db.Put(ctx, must[runtime.Ref](t)(users.RowOf(u)), u))
	}
	check(t, db.DeleteRows(ctx, users, runtime.KeyRange{Lower: str("b")}))
	for _, k := range storedKeys(t, store) {
		if !strings.Contains(k, `1:"a"`) {
			t.Errorf("after DeleteRows [b..): key %s left", k)
		}
	}
	// Inside a transaction, the same.
	check(t, db.Update(ctx, func(tx *runtime.Tx) error {
		ref := must[runtime.Ref](t)(must[runtime.Ref](t)(must[runtime.Ref](t)(users.Row(str("z"))).Field(5)).Entry(str("s")))
		return tx.Put(ctx, ref, &testpb.Session{ExpiresUs: 1})
	}))
	check(t, db.Get(ctx, must[runtime.Ref](t)(users.Row(str("z"))), got))
	wantEqual(t, "after a Tx entry Put", &apartpb.ApartUser{UserId: "z", Sessions: map[string]*testpb.Session{"s": {ExpiresUs: 1}}}, got)
	// A refused write creates no row.
	bad := must[runtime.Ref](t)(must[runtime.Ref](t)(must[runtime.Ref](t)(users.Row(str("y"))).Field(11)).Entry(str("\xff")))
	if err := db.SetValue(ctx, bad, protoreflect.ValueOfInt64(1)); !errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("invalid key: got %v, want ErrInvalid", err)
	}
	if err := db.Get(ctx, must[runtime.Ref](t)(users.Row(str("y"))), got); !isNotFound(err) {
		t.Fatalf("after a refused write: Get = %v, want not found", err)
	}
}

// TestApartUpdateInlineEnsuresRow: UpdateInline of an object stored apart
// (the password, a session entry) of a missing row creates the row's key,
// which marks the row, on a store with a single-key read-modify-write
// (pebblekv, kv.KeyUpdater: the update must not take it, since it writes
// the object's own key only) and on one without (memkv).
func TestApartUpdateInlineEnsuresRow(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, users := openApart(t, open())
			set := func(ref runtime.Ref, field protoreflect.Name, v protoreflect.Value) {
				t.Helper()
				check(t, db.UpdateInline(ctx, ref, func(m protoreflect.Message) error {
					m.Set(m.Descriptor().Fields().ByName(field), v)
					return nil
				}))
			}
			row := must[runtime.Ref](t)(users.Row(str("p")))
			set(must[runtime.Ref](t)(row.Field(4)), "hash", protoreflect.ValueOfBytes([]byte("h")))
			row2 := must[runtime.Ref](t)(users.Row(str("s")))
			set(must[runtime.Ref](t)(must[runtime.Ref](t)(row2.Field(5)).Entry(str("s1"))), "expires_us", protoreflect.ValueOfInt64(7))
			for _, c := range []struct {
				row  runtime.Ref
				want *apartpb.ApartUser
			}{
				{row, &apartpb.ApartUser{UserId: "p", Password: &testpb.Password{Hash: []byte("h")}}},
				{row2, &apartpb.ApartUser{UserId: "s", Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 7}}}},
			} {
				got := &apartpb.ApartUser{}
				check(t, db.Get(ctx, c.row, got))
				wantEqual(t, "after UpdateInline of an apart object of a missing row", c.want, got)
			}
		})
	}
}

// TestQueryDifferentialApart is TestQueryDifferential on ApartUser and Feed,
// tables with fields stored apart: random data and queries (projections
// with and without the apart fields, map ranges, first, reverse, paging
// and resumption under limits) against the model.
func TestQueryDifferentialApart(t *testing.T) {
	open := func(t testing.TB, store kv.Store) *runtime.DB {
		db, _ := openApart(t, store)
		return db
	}
	querytest.Differential(t, 24, memOrPebble(8), open, qApartData, []string{"ApartUser", "Feed"})
}

// qApartData is querytest.RandomData's users as ApartUsers, with a Feed.
func qApartData(r *rand.Rand) []proto.Message {
	var out []proto.Message
	for _, m := range querytest.RandomData(r) {
		if u, ok := m.(*testpb.User); ok {
			out = append(out, runtimetestConvert(u, &apartpb.ApartUser{}))
		}
	}
	if r.IntN(4) != 0 {
		f := &apartpb.Feed{Title: "t"}
		for i := range r.IntN(5) {
			if f.Items == nil {
				f.Items = map[uint32]string{}
			}
			f.Items[uint32(i*7)] = strings.Repeat("x", i)
		}
		out = append(out, f)
	}
	return out
}

// runtimetestConvert copies the fields of src into dst, a message with the
// same field numbers and types.
func runtimetestConvert(src, dst proto.Message) proto.Message {
	s, d := src.ProtoReflect(), dst.ProtoReflect()
	s.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(d.Descriptor().Fields().ByNumber(fd.Number()), v)
		return true
	})
	return dst
}

// TestApartExplain checks that Explain shows an apart field's reads in its
// own key space: the table element 20 (f9 01 40: tag 20<<4|unit) swapped
// for the field's apart element (f9 01 43 05: tag 20<<4|uint, value 5).
func TestApartExplain(t *testing.T) {
	db, _ := openApart(t, memkv.New())
	for _, c := range []struct{ q, want string }{
		{`ApartUser["alice"] { registered, sessions["s1"] { device } }`, `get ApartUser[user_id="alice"]
  key    f90140 14616c6963650000
  return user_id (key), registered
  skip   last_seen_us, password, threads, counters, nickname, settings, scores
  apart  ApartUser[user_id="alice"].sessions: its own key space, read with an iterator of its own
  get ApartUser[user_id="alice"].sessions["s1"] (map entry)
    key    f9014305 14616c6963650000 5473310000
    return key, device
    skip   attrs, geo
`},
	} {
		q := must[*query.Query](t)(query.Compile(db.Catalog(), c.q))
		if got := q.Explain(); got != c.want {
			t.Errorf("Explain(%s):\n%s\nwant:\n%s", c.q, got, c.want)
		}
	}
}

// TestApartVerify checks that verify resolves apart keys and counts them in
// their table's digest, and reports a key of an apart field found under the
// row.
func TestApartVerify(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db, users := openApart(t, store)
	check(t, db.Put(ctx, must[runtime.Ref](t)(users.Row(str("alice"))), apartAlice()))
	rep := must[*runtime.VerifyReport](t)(db.Verify(ctx, runtime.VerifyOptions{}))
	if !rep.OK() {
		t.Fatalf("verify of a sound apart DB: %v", rep.Problems)
	}
	for _, d := range rep.Digests {
		if d.Name == "protoql.test.apart.v1.ApartUser" && d.Pairs != 6 {
			t.Errorf("ApartUser digest holds %d pairs, want 6 (row, breakout and 4 apart pairs)", d.Pairs)
		}
		if d.Table == 0 && d.Name != "(metadata)" {
			t.Errorf("digest group %s holds %d pairs", d.Name, d.Pairs)
		}
	}
	// A session under the row: the layout says sessions are apart.
	b := kv.NewBatch()
	check(t, b.Set(tuple.AppendString(tuple.AppendString(tuple.AppendUnit(nil, 20), 1, tuple.Asc, "alice"), 5, tuple.Asc, "s9"), nil))
	check(t, store.Apply(ctx, b))
	rep = must[*runtime.VerifyReport](t)(db.Verify(ctx, runtime.VerifyOptions{}))
	if rep.ProblemCount != 1 || !strings.Contains(rep.Problems[0].Msg, "stored apart") {
		t.Errorf("verify of a session under the row: %d problems %v, want one saying it is stored apart", rep.ProblemCount, rep.Problems)
	}
	// A whole read refuses it too, rather than returning it.
	if err := db.Get(ctx, must[runtime.Ref](t)(users.Row(str("alice"))), &apartpb.ApartUser{}); !errors.Is(err, runtime.ErrCorrupt) {
		t.Errorf("Get of a row with a session under it: %v, want ErrCorrupt", err)
	}
}
