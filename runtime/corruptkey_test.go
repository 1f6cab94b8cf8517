package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestInvalidUTF8KeyColumnIsCorrupt stores, by hand, a row of User (a
// proto3 table keyed by a string) under a key whose string element is not
// valid UTF-8, which no write path stores: every read path must report a
// corruption error naming that row's key, and none may hand back a
// message that protobuf-go would refuse to marshal.
func TestInvalidUTF8KeyColumnIsCorrupt(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	gen := openDB(t, store)
	u := fullUser("f")
	check(t, gen.Put(ctx, must[runtime.Ref](t)(table(t, gen, "User").RowOf(u)), u))
	const badID = "g\xff"
	good := must[runtime.Ref](t)(table(t, gen, "User").Row(str("f"))).Key()
	bad := must[runtime.Ref](t)(table(t, gen, "User").Row(str(badID))).Key()
	b := kv.NewBatch()
	n := 0
	for _, k := range rowKeys(t, store) {
		if !bytes.HasPrefix(k, good) {
			continue
		}
		v := must[[]byte](t)(store.Get(ctx, k))
		check(t, b.Set(append(bytes.Clone(bad), k[len(good):]...), v))
		n++
	}
	if n < 2 {
		t.Fatalf("copied %d pairs of row f, want the row and its children", n)
	}
	check(t, store.Apply(ctx, b))
	dyn := must[*runtime.DB](t)(runtime.Open(ctx, store))

	want := func(api string, m proto.Message, err error) {
		t.Helper()
		var ce *runtime.CorruptError
		if err == nil {
			if _, merr := proto.Marshal(m); merr != nil {
				t.Errorf("%s: returned a message protobuf-go cannot marshal: %v", api, merr)
				return
			}
			t.Errorf("%s: read the row without an error, want a corruption error", api)
			return
		}
		if !errors.As(err, &ce) || !bytes.Equal(ce.Key, bad) {
			t.Errorf("%s: got %v, want a corruption error at row key %x", api, err, bad)
		}
		// Every path refuses the element by the key column's rule, in
		// Column.Value's words, not by a later parse of the row.
		if !strings.Contains(err.Error(), "key column user_id: schema: bad key value: \"g\\xff\" is not valid UTF-8, which proto3 requires of user_id") {
			t.Errorf("%s: got %v, want the error to name key column user_id and its UTF-8 rule", api, err)
		}
	}
	// scanBad scans and reports the outcome for the bad row: rows before
	// it (row f) are read fine; the scan must stop at the bad one.
	scanBad := func(api string, seq func(func(proto.Message, error) bool)) {
		t.Helper()
		for m, err := range seq {
			if err == nil && m.ProtoReflect().Get(m.ProtoReflect().Descriptor().Fields().ByNumber(1)).String() == "f" {
				continue
			}
			want(api, m, err)
			return
		}
		t.Errorf("%s: the scan ended without reaching the bad row", api)
	}

	users := must[testpb.UserTable](t)(testpb.NewUserTable(gen))
	m, err := users.Get(ctx, badID)
	want("typed Get", m, err)
	for _, fields := range [][]string{nil, {"registered"}, {"registered", "sessions"}} {
		for _, generic := range []bool{false, true} {
			runtime.SetGenericRowScanForTest(generic)
			scanBad("typed Scan", func(yield func(proto.Message, error) bool) {
				for m, err := range users.Scan(ctx, testpb.UserKeys(), runtime.ScanOptions{Fields: fields}) {
					if !yield(m, err) {
						return
					}
				}
			})
			for _, db := range []*runtime.DB{gen, dyn} {
				scanBad("Scan", func(yield func(proto.Message, error) bool) {
					for m, err := range db.Scan(ctx, table(t, db, "User"), runtime.KeyRange{}, runtime.ScanOptions{Fields: fields}) {
						if !yield(m, err) {
							return
						}
					}
				})
			}
			runtime.SetGenericRowScanForTest(false)
		}
	}
	for _, db := range []*runtime.DB{gen, dyn} {
		tbl := table(t, db, "User")
		m := db.NewMessage(tbl.Schema().Desc).Interface()
		want("Get", m, db.Get(ctx, must[runtime.Ref](t)(tbl.Row(str(badID))), m))
		for _, text := range []string{`User`, `User { registered }`, `User { registered, sessions { expires_us } }`, `User[$id]`, `User[$id] { last_seen_us }`} {
			q := query.MustCompile(db.Catalog(), text)
			scanBad("Query "+text, func(yield func(proto.Message, error) bool) {
				var vars map[string]any
				if bytes.Contains([]byte(text), []byte("$id")) {
					vars = map[string]any{"id": badID}
				}
				for res, err := range db.Query(ctx, q, vars) {
					if !yield(res.Msg, err) {
						return
					}
				}
			})
		}
		probs, err := db.Verify(ctx, runtime.VerifyOptions{})
		check(t, err)
		found := false
		for _, p := range probs.Problems {
			found = found || bytes.HasPrefix(p.Key, bad)
		}
		if !found {
			t.Errorf("Verify: no problem reported under row key %x: %v", bad, probs.Problems)
		}
	}
}

// TestInvalidUTF8MapKeyIsCorrupt is TestInvalidUTF8KeyColumnIsCorrupt for
// a proto3 string map key: reads of the row and of the map fail with a
// corruption error, and Verify reports the entry.
func TestInvalidUTF8MapKeyIsCorrupt(t *testing.T) {
	ctx := context.Background()
	f := newSessionsFixture(t, fullUser("f"), "s1")
	bad := f.setEntry(t, "s\xff")
	want := func(api string, err error, key []byte) {
		t.Helper()
		var ce *runtime.CorruptError
		if !errors.As(err, &ce) || !bytes.Equal(ce.Key, key) {
			t.Errorf("%s: got %v, want a corruption error at %x", api, err, key)
		}
	}
	want("Get", f.db.Get(ctx, f.row, &testpb.User{}), f.row.Key())
	var err error
	for _, err = range f.db.ScanMap(ctx, f.sessions, runtime.KeyRange{}, runtime.ScanOptions{}) {
		if err != nil {
			break
		}
	}
	want("ScanMap", err, bad)
	probs, err := f.db.Verify(ctx, runtime.VerifyOptions{})
	check(t, err)
	if len(probs.Problems) == 0 || !bytes.Equal(probs.Problems[0].Key, bad) {
		t.Errorf("Verify: got %v, want a problem at %x", probs.Problems, bad)
	}
}

// TestInvalidUTF8MapKeyLengthsAreCorrupt is TestInvalidUTF8MapKeyIsCorrupt
// for map keys of 1 to 20 bytes with a byte that is not UTF-8 at each
// place: a whole-row Get checks the key of each entry it keeps aside
// (keepWhole, with validUTF8, which reads keys under eight bytes four at
// a time and longer ones eight at a time), and must fail with a
// corruption error at the row for every one of them.
func TestInvalidUTF8MapKeyLengthsAreCorrupt(t *testing.T) {
	ctx := context.Background()
	u := &testpb.User{UserId: "f", Sessions: map[string]*testpb.Session{"good": {ExpiresUs: 7, Device: "d"}}}
	f := newSessionsFixture(t, u, "good")
	for n := 1; n <= 20; n++ {
		for at := range n {
			k := bytes.Repeat([]byte{'k'}, n)
			k[at] = 0xff
			bad := f.setEntry(t, string(k))
			err := f.db.Get(ctx, f.row, &testpb.User{})
			var ce *runtime.CorruptError
			if !errors.As(err, &ce) || !bytes.Equal(ce.Key, f.row.Key()) {
				t.Fatalf("map key %q: Get: got %v, want a corruption error at %x", k, err, f.row.Key())
			}
			b := kv.NewBatch()
			check(t, b.Delete(bad))
			check(t, f.store.Apply(ctx, b))
		}
	}
	// The row reads again once the bad keys are gone.
	got := &testpb.User{}
	check(t, f.db.Get(ctx, f.row, got))
	if !proto.Equal(got, u) {
		t.Errorf("Get = %v, want %v", got, u)
	}
}

// sessionsFixture is a stored User in a memkv store, its row and its
// sessions map, and the stored value of one of its entries, for tests that
// write entries under keys the runtime would refuse to write.
type sessionsFixture struct {
	store    *memkv.Store
	db       *runtime.DB
	row      runtime.Ref
	sessions runtime.Ref
	value    []byte // the stored value of the entry newSessionsFixture was given
}

// newSessionsFixture stores u (which has a session under key) and reads
// that session's stored value.
func newSessionsFixture(t *testing.T, u *testpb.User, key string) *sessionsFixture {
	t.Helper()
	ctx := context.Background()
	f := &sessionsFixture{store: memkv.New()}
	f.db = openDB(t, f.store)
	users := table(t, f.db, "User")
	check(t, f.db.Put(ctx, must[runtime.Ref](t)(users.RowOf(u)), u))
	f.row = must[runtime.Ref](t)(users.Row(str(u.GetUserId())))
	f.sessions = must[runtime.Ref](t)(f.row.Field(5))
	f.value = must[[]byte](t)(f.store.Get(ctx, f.entryKey(t, key)))
	return f
}

// entryKey returns the stored key of the sessions map's entry key.
func (f *sessionsFixture) entryKey(t *testing.T, key string) []byte {
	t.Helper()
	return must[runtime.Ref](t)(f.sessions.Entry(str(key))).Key()
}

// setEntry writes the fixture's entry value under the sessions map's key
// key, straight to the store, and returns the stored key.
func (f *sessionsFixture) setEntry(t *testing.T, key string) []byte {
	t.Helper()
	k := f.entryKey(t, key)
	b := kv.NewBatch()
	check(t, b.Set(k, f.value))
	check(t, f.store.Apply(context.Background(), b))
	return k
}
